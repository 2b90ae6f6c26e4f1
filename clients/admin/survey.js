// admin/survey.js — owns the console's survey settings section: the CSAT survey sent
// when a conversation is resolved (docs/engagement.md), read with `GET
// /api/v1/survey-settings` and changed with `PUT` carrying the version it started
// from (409 when someone saved meanwhile): on or off, how long a reply counts as the
// answer (hours here, milliseconds on the wire), the longest comment and the language
// of the question when the customer has none. A save is in force on every node at once
// and applies to conversations resolved from then on. Bad fields are refused under
// their inputs (`fields` of a 400); nothing changes.

import { t } from '../shared/i18n.js';
import { byId } from '../shared/dom.js';
import { api, ApiFailure, showErrors, errorsOf, notify } from './app.js';

/**
 * The settings in force (`GET /api/v1/survey-settings`).
 * @typedef {{settings: {enabled: boolean, answer_window_ms: number, max_comment_bytes: number, default_language: string},
 *   version: number, saved_by: string, saved_at: number}} SurveyConfig
 */

/** @type {SurveyConfig | null} */
let loaded = null;

const input = (/** @type {string} */ id) => byId(id, HTMLInputElement);
const HOUR_MS = 3_600_000;

/** Loads the settings in force into the form. */
export async function loadSurvey() {
  try {
    loaded = /** @type {SurveyConfig} */ (await api('GET', '/survey-settings'));
  } catch (e) {
    if (!(e instanceof ApiFailure && e.status === 401)) notify('adm.load_failed');
    return;
  }
  fill();
}

function fill() {
  if (!loaded) return;
  const s = loaded.settings;
  input('survey-enabled').checked = s.enabled;
  input('survey-window-hours').value = String(s.answer_window_ms / HOUR_MS);
  input('survey-max-comment').value = String(s.max_comment_bytes);
  byId('survey-language', HTMLSelectElement).value = s.default_language;
  renderVersion();
  showErrors(byId('survey-form', HTMLFormElement), {});
}

export function renderVersion() {
  if (!loaded) return;
  byId('survey-version').textContent =
    loaded.version === 0 ? t('adm.survey.from_file') : t('adm.survey.version', { version: loaded.version, by: loaded.saved_by });
}

/**
 * A number input's value as a number, or the text as typed (the server names it).
 * @param {string} id
 * @param {number} [scale]
 */
function numberOf(id, scale = 1) {
  const raw = input(id).value.trim();
  const n = Number(raw);
  return raw !== '' && Number.isFinite(n) ? Math.round(n * scale) : raw;
}

/** @param {SubmitEvent} ev */
async function save(ev) {
  ev.preventDefault();
  if (!loaded) return;
  const form = byId('survey-form', HTMLFormElement);
  const body = {
    version: loaded.version,
    settings: {
      enabled: input('survey-enabled').checked,
      answer_window_ms: numberOf('survey-window-hours', HOUR_MS),
      max_comment_bytes: numberOf('survey-max-comment'),
      default_language: byId('survey-language', HTMLSelectElement).value,
    },
  };
  try {
    loaded = /** @type {SurveyConfig} */ (await api('PUT', '/survey-settings', body));
  } catch (e) {
    return showErrors(form, errorsOf(e));
  }
  fill();
  notify('adm.saved', { what: t('adm.survey') });
}

/** Wires the form (once, at load). */
export function initSurvey() {
  byId('survey-form').addEventListener('submit', (ev) => void save(/** @type {SubmitEvent} */ (ev)));
  byId('survey-reload').addEventListener('click', () => void loadSurvey());
}
