// tests/globals.d.ts — owns the types of what the browser tests read from a page that
// the pages themselves never declare: `window.__xss`, which the markup the tests send
// would set if it ever ran as script (agent_chat.mjs checks that it stays undefined).

interface Window {
  __xss?: unknown;
}
