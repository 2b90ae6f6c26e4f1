// shared/staff-login.js — owns the sign-in of both staff clients (agent desktop and
// supervisor dashboard): the form (`#login-form`, the ID field the caller names,
// `#login-password`, `#login-error`, `#login-submit`), `POST /api/v1/login`, the
// session kept in sessionStorage under the caller's key, its expiry, and switching
// between `#login-view` and `#app-view`. What a client does with a session (socket,
// state) and what it tears down on sign-out are its own; a client that admits only
// some roles says which through `refuse`.

import { t } from './i18n.js';
import { byId } from './dom.js';

/**
 * What `POST /api/v1/login` answers, as kept in sessionStorage.
 * @typedef {object} StaffSession
 * @property {string} token      bearer token for REST and the websocket
 * @property {string} agent_id
 * @property {string} role       `agent`, `supervisor` or `admin`
 * @property {number} expires_at Unix ms
 */

/**
 * @typedef {object} StaffLoginOptions
 * @property {string} storageKey  sessionStorage key of the session
 * @property {string} idField     id of the staff-ID input (`login-agent-id`, `login-id`)
 * @property {string} titleKey    i18n key of the page title while the form shows
 * @property {(role: string) => string | null} [refuse]  i18n key of the refusal of a role, or null to admit it
 * @property {(session: StaffSession) => void} onSignedIn  starts the client (form already hidden)
 */

const input = (/** @type {string} */ id) => byId(id, HTMLInputElement);
/**
 * Whether a session's token has expired at `now` (Unix ms; pass the server's clock
 * when known). A session without `expires_at` never expires here.
 * @param {StaffSession | null} session
 * @param {number} now
 */
export function sessionExpired(session, now) {
  const exp = session && Number(session.expires_at);
  return !!exp && now >= exp;
}

/**
 * The sign-in of one staff client: `resume()` once at start (wires the form; a stored,
 * unexpired session signs in at once, else the form shows, saying so if the stored one
 * expired) and `signedOut(messageKey)` after the client's own sign-out.
 * @param {StaffLoginOptions} options
 */
export function staffLogin({ storageKey, idField, titleKey, refuse = () => null, onSignedIn }) {
  /** The ID of the last session on this page: put back in the form after sign-out. */
  let lastId = '';

  /** @returns {StaffSession | null} */
  function load() {
    try {
      const s = JSON.parse(sessionStorage.getItem(storageKey) || 'null');
      if (s && s.token && s.agent_id) return s;
    } catch {
      /* ignore */
    }
    return null;
  }

  /** @param {StaffSession | null} s */
  function save(s) {
    try {
      if (s) sessionStorage.setItem(storageKey, JSON.stringify(s));
      else sessionStorage.removeItem(storageKey);
    } catch {
      /* storage disabled: the session lasts for this page */
    }
  }

  /** @param {StaffSession} session */
  function start(session) {
    lastId = session.agent_id;
    save(session);
    byId('login-view').hidden = true;
    byId('app-view').hidden = false;
    onSignedIn(session);
  }

  /** @param {string | null} [messageKey] */
  function show(messageKey) {
    byId('app-view').hidden = true;
    byId('login-view').hidden = false;
    document.title = `${t(titleKey)} · Switchboard`;
    const errorEl = byId('login-error');
    errorEl.hidden = !messageKey;
    if (messageKey) errorEl.textContent = t(messageKey);
    const id = input(idField);
    if (lastId) id.value = lastId;
    (id.value ? input('login-password') : id).focus();
  }

  /** @param {SubmitEvent} ev */
  async function onSubmit(ev) {
    ev.preventDefault();
    const id = input(idField).value.trim();
    const password = input('login-password').value;
    const errorEl = byId('login-error');
    if (!id || !password) {
      (id ? input('login-password') : input(idField)).focus();
      return;
    }
    const submit = byId('login-submit', HTMLButtonElement);
    submit.disabled = true;
    submit.textContent = t('login.signing_in');
    errorEl.hidden = true;
    try {
      const res = await fetch('../api/v1/login', {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ agent_id: id, password }),
      });
      if (res.ok) {
        const body = await res.json();
        input('login-password').value = '';
        const refusal = refuse(body.role);
        if (refusal) {
          errorEl.textContent = t(refusal);
          errorEl.hidden = false;
          return;
        }
        start({ token: body.token, agent_id: body.agent_id || id, role: body.role, expires_at: body.expires_at });
        return;
      }
      errorEl.textContent = res.status === 401 ? t('login.bad_credentials') : t('login.failed', { status: res.status });
      errorEl.hidden = false;
    } catch {
      errorEl.textContent = t('login.unreachable');
      errorEl.hidden = false;
    } finally {
      submit.disabled = false;
      submit.textContent = t('login.submit');
    }
  }

  return {
    /** Once at start: wires the form, then signs in with the stored session or shows the form. */
    resume() {
      byId('login-form').addEventListener('submit', onSubmit);
      const session = load();
      if (session && !sessionExpired(session, Date.now())) start(session);
      else {
        if (session) save(null);
        show(session ? 'login.expired' : null);
      }
    },
    /**
     * The client has signed out: the stored session goes and the form shows.
     * @param {string | null} [messageKey] why (e.g. `login.expired`)
     */
    signedOut(messageKey) {
      save(null);
      show(messageKey);
    },
  };
}
