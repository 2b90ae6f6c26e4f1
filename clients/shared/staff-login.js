// shared/staff-login.js — owns the sign-in of both staff clients (agent desktop and
// supervisor dashboard): the form (`#login-form`, the ID field the caller names,
// `#login-password`, `#login-error`, `#login-submit`), `POST /api/v1/login`, the
// session kept in sessionStorage under the caller's key, its expiry, and switching
// between `#login-view` and `#app-view`. What a client does with a session (socket,
// state) and what it tears down on sign-out are its own; a client that admits only
// some roles says which through `refuse`.
//
// Single sign-on (docs/sso.md): `GET /api/v1/auth/methods` says which sign-ins are open;
// with SSO, `#login-sso` links to `/api/v1/oidc/login?client=…`, and with password
// sign-in off the ID and password fields (`#login-password-fields`) and
// `#login-submit` hide. The provider's round trip ends back on this page with the
// session in the URL fragment (`#sso_token=…&agent_id=…&role=…&expires_at=…`) or a
// refusal (`#sso_error=reason`); either is taken and removed from the address bar
// before anything else runs.

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
 * @property {'agent' | 'supervisor' | 'admin'} [client]  which staff page this is, for single sign-on's return
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
 * The single sign-on result the provider's round trip left in the URL fragment, taken
 * out of the address bar (and so out of the history) at once.
 * @returns {{ session: StaffSession | null, error: string | null }}
 */
function takeSsoResult() {
  const params = new URLSearchParams(location.hash.slice(1));
  const token = params.get('sso_token');
  const error = params.get('sso_error');
  if (token === null && error === null) return { session: null, error: null };
  history.replaceState(null, '', location.pathname + location.search);
  if (error !== null) return { session: null, error };
  /** @type {StaffSession} */
  const session = {
    token: token || '',
    agent_id: params.get('agent_id') || '',
    role: params.get('role') || '',
    expires_at: Number(params.get('expires_at')) || 0,
  };
  const complete = !!(session.token && session.agent_id);
  return { session: complete ? session : null, error: complete ? null : 'malformed' };
}

/**
 * The i18n keys of the single sign-on refusals that have their own message.
 * @type {Record<string, string>}
 */
const SSO_MESSAGES = {
  no_role: 'login.sso.no_role',
  unknown_agent: 'login.sso.unknown_agent',
  disabled: 'login.sso.disabled',
  provider_unavailable: 'login.sso.unavailable',
  provider_denied: 'login.sso.denied',
};

/**
 * @param {string} reason an `sso_error`
 * @returns {string} the i18n key of its message
 */
function ssoMessage(reason) {
  return Object.prototype.hasOwnProperty.call(SSO_MESSAGES, reason) ? SSO_MESSAGES[reason] : 'login.sso.refused';
}

/**
 * The sign-in of one staff client: `resume()` once at start (wires the form; a stored,
 * unexpired session signs in at once, else the form shows, saying so if the stored one
 * expired; a single sign-on result in the URL fragment comes first) and
 * `signedOut(messageKey)` after the client's own sign-out.
 * @param {StaffLoginOptions} options
 */
export function staffLogin({ storageKey, idField, titleKey, refuse = () => null, onSignedIn, client = 'agent' }) {
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

  /** Which sign-ins are open: shows the SSO button, hides the password form when off. */
  async function offerMethods() {
    try {
      const res = await fetch('../api/v1/auth/methods', { headers: { accept: 'application/json' } });
      if (!res.ok) return;
      const methods = await res.json();
      const sso = byId('login-sso', HTMLAnchorElement);
      if (methods.sso) {
        sso.textContent = methods.sso.label;
        sso.href = `..${methods.sso.login_url}?client=${client}`;
        sso.classList.toggle('btn--primary', !methods.password);
        sso.hidden = false;
      }
      const password = methods.password !== false;
      byId('login-password-fields').hidden = !password;
      byId('login-submit').hidden = !password;
    } catch {
      /* the password form stays: the server is unreachable anyway */
    }
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
    if (!byId('login-password-fields').hidden) (id.value ? input('login-password') : id).focus();
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
      void offerMethods();
      const sso = takeSsoResult();
      if (sso.session) {
        const refusal = refuse(sso.session.role);
        if (!refusal) {
          start(sso.session);
          return;
        }
        save(null);
        show(refusal);
        return;
      }
      if (sso.error) {
        save(null);
        show(ssoMessage(sso.error));
        return;
      }
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
