// tests/oidc_provider.mjs — owns the OpenID provider the single sign-on tests sign in
// at: panva's `oidc-provider` (an OpenID Certified provider library, from npm), with its
// development login and consent pages, one confidential client (secret, PKCE required)
// and the accounts the test names, whose ID tokens carry `preferred_username` and
// `groups`. Nothing here accepts anything: the engine talks to the real library's
// discovery, authorization, token and JWKS endpoints.
//
// A test hook, `POST /__test/{action}` on the same port, is the only addition:
//   tamper | audience | expired | unknown_key | nonce
//       the next token response's ID token is altered that way: its payload changed
//       under the original signature; or signed again (with the provider's own key)
//       for another audience, already expired, or with another nonce; or signed by a
//       key the JWKS does not publish;
//   rotate
//       a new signing key is published and used from now on (the old one stays in
//       the JWKS), as an IdP's key rollover does.
//
//   OIDC_PORT=9000 OIDC_CLIENT_ID=switchboard OIDC_CLIENT_SECRET=s \
//   OIDC_REDIRECT=http://127.0.0.1:8080/api/v1/oidc/callback \
//   OIDC_ACCOUNTS='{"alice":{"groups":["cc-agents"]}}' node clients/tests/oidc_provider.mjs
//
// Prints "oidc provider ready at http://127.0.0.1:PORT" once it listens.

import http from 'node:http';
import Provider from 'oidc-provider';
import * as jose from 'jose';

const port = Number(process.env.OIDC_PORT);
const clientId = process.env.OIDC_CLIENT_ID || '';
const clientSecret = process.env.OIDC_CLIENT_SECRET || '';
const redirect = process.env.OIDC_REDIRECT || '';
/** @type {Record<string, {groups: string[], username?: string}>} */
const accounts = JSON.parse(process.env.OIDC_ACCOUNTS || '{}');
if (!port || !clientId || !redirect) {
  console.error('usage: OIDC_PORT=… OIDC_CLIENT_ID=… OIDC_CLIENT_SECRET=… OIDC_REDIRECT=… OIDC_ACCOUNTS=… node clients/tests/oidc_provider.mjs');
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;

/** @param {string} kid */
async function signingKey(kid) {
  const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
  return { ...(await jose.exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' };
}
const first = await signingKey('key-1');
const second = await signingKey('key-2');
const stray = await signingKey('stray');

/** @param {Record<string, unknown>[]} keys the first signs */
function makeProvider(keys) {
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: [redirect],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    jwks: { keys },
    cookies: { keys: ['switchboard-sso-test-cookies'] },
    pkce: { required: () => true },
    scopes: ['openid', 'profile', 'groups'],
    claims: { openid: ['sub'], profile: ['preferred_username'], groups: ['groups'] },
    // The ID token carries the scopes' claims (the engine reads no userinfo).
    conformIdTokenClaims: false,
    async findAccount(_ctx, sub) {
      const account = accounts[sub];
      if (!account) return undefined;
      return {
        accountId: sub,
        async claims() {
          return { sub, preferred_username: account.username ?? sub, groups: account.groups };
        },
      };
    },
  });
  provider.use(async (ctx, next) => {
    await next();
    const body = /** @type {any} */ (ctx.body);
    if (ctx.path === '/token' && ctx.status === 200 && body?.id_token && alteration) {
      const how = alteration;
      alteration = null;
      ctx.body = { ...body, id_token: await alter(body.id_token, how) };
      console.log(`id token altered: ${how}`);
    }
  });
  return provider;
}

/** @type {string | null} how the next ID token is altered */
let alteration = null;
let signing = first;

/**
 * @param {string} token
 * @param {string} how
 */
async function alter(token, how) {
  const [h, p, s] = token.split('.');
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
  const now = Math.floor(Date.now() / 1000);
  /** @param {Record<string, unknown>} c @param {Record<string, unknown>} key */
  const sign = async (c, key) =>
    new jose.SignJWT(c).setProtectedHeader({ alg: 'RS256', kid: String(key.kid) }).sign(await jose.importJWK(key, 'RS256'));
  switch (how) {
    case 'tamper': {
      const forged = Buffer.from(JSON.stringify({ ...claims, groups: ['cc-admins'] })).toString('base64url');
      return `${h}.${forged}.${s}`;
    }
    case 'audience':
      return sign({ ...claims, aud: 'another-client', azp: 'another-client' }, signing);
    case 'expired':
      return sign({ ...claims, iat: now - 7200, exp: now - 3600 }, signing);
    case 'nonce':
      return sign({ ...claims, nonce: 'a-nonce-from-another-sign-in' }, signing);
    case 'unknown_key':
      return sign(claims, stray);
    default:
      throw new Error(`unknown alteration ${how}`);
  }
}

let provider = makeProvider([first]);

const server = http.createServer((req, res) => {
  const hook = req.method === 'POST' && req.url?.startsWith('/__test/') ? req.url.slice('/__test/'.length) : null;
  if (hook === 'rotate') {
    signing = second;
    provider = makeProvider([second, first]);
    console.log('signing key rotated');
    res.writeHead(204).end();
  } else if (hook && ['tamper', 'audience', 'expired', 'nonce', 'unknown_key'].includes(hook)) {
    alteration = hook;
    res.writeHead(204).end();
  } else if (hook) {
    res.writeHead(404).end();
  } else {
    provider.callback()(req, res);
  }
});
server.listen(port, '127.0.0.1', () => console.log(`oidc provider ready at ${issuer}`));
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
