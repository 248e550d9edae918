// The bundled development identity provider: panva's oidc-provider, configured with one native
// public client and the users in users.json. It is a real IdP: nothing here changes its protocol
// behaviour, only the knobs its configuration offers.
//
// It listens on 127.0.0.1 only. When it is ready it prints one JSON line on stdout:
//   {"issuer":"http://127.0.0.1:PORT","client_id":"latchkey-native","api":"http://127.0.0.1:PORT/api/hello"}
//
// Knobs (environment):
//   DEV_IDP_PORT                 port to listen on (default 0: an ephemeral port)
//   DEV_IDP_ACCESS_TOKEN_TTL     access-token lifetime in seconds (default 3600)
//   DEV_IDP_REFRESH_TOKEN_TTL    refresh-token lifetime in seconds (default 14 days)
//   DEV_IDP_REFRESH_POLICY       offline_access (default: only when offline_access was granted,
//                                which this server grants only with prompt=consent) | always | never
//   DEV_IDP_ROTATE               true (default) | false: rotate refresh tokens on every use
//   DEV_IDP_CLOCK_TOLERANCE      seconds of clock tolerance (default 15; 0 for expiry tests)
//   DEV_IDP_QUIET                1 to silence the per-request log on stderr
//   DEV_IDP_TEST_CLOCK           1 to let tests move this server's clock forward with
//                                POST /dev/clock?advance=SECONDS (tokens expire without waiting;
//                                a negative SECONDS moves it back); every response's Date header
//                                then follows that clock too
//   DEV_IDP_QUIRKS               comma-separated ways to answer like providers that don't follow
//                                RFC 6749 to the letter (the client must cope):
//                                  expires_in_string  token responses quote expires_in ("3600")
//                                  bare_token_errors  token-endpoint errors come as a bare 400
//                                                     with an empty body, no OAuth error
//   DEV_IDP_DPOP_NONCE           off (default) | token | api | both: demand a server-provided DPoP
//                                nonce (RFC 9449 §8, §9) at the token endpoint, at the demo API,
//                                or both; token_forever | api_forever: a broken server (for tests)
//                                that answers every request there with a new nonce challenge
//   DEV_IDP_DPOP_ALGS            comma-separated DPoP proof algorithms to offer (default: the
//                                provider's, ES256 and EdDSA), e.g. EdDSA
//   DEV_IDP_PAR                  on (default: pushed authorization requests offered, RFC 9126)
//                                | required (require_pushed_authorization_requests: a plain
//                                authorization request is refused) | off (no endpoint)
//   DEV_IDP_STEP_UP_ACR          the acr GET /api/step-up demands (RFC 9470; default
//                                urn:latchkey:mfa; empty: none)
//   DEV_IDP_STEP_UP_MAX_AGE      the max_age in seconds GET /api/step-up demands (default: none)
//   DEV_IDP_RECORD_SECRETS       a file to append every issued authorization code, access token
//                                and refresh token to, and a pushed request's state, nonce and
//                                code_challenge, one JSON line each (tests use it to prove
//                                that none of them leaks from the app; never set it otherwise)
//
// DPoP (RFC 9449) is on: a client that sends a proof gets DPoP-bound tokens (a public client's
// refresh token is bound to its key), and the demo API then checks the proof (signature, htm,
// htu, ath, the token's cnf.jkt, the nonce when one is demanded).
//
// Authentication levels (acr): a login is urn:latchkey:pwd; when the authorization request asks
// for urn:latchkey:mfa in acr_values and the second factor was given (POST
// /interaction/UID/otp with otp=123456 before the login form, as the login driver does), it is
// urn:latchkey:mfa (amr pwd+otp). An API beside the demo one, GET /api/step-up, answers
// RFC 9470's insufficient_user_authentication challenge unless the access token's sign-in has the
// demanded acr and is recent enough; /dev/stats counts its demands (step_up_demands).
//
// GET /dev/stats returns counters for the benchmarks and tests: {"token_requests": N,
// "api_requests": N, "grants": {...}, "revocations": {"requests": N, "refresh_tokens": N,
// "access_tokens": N}} — every POST to the token endpoint, every request to the demo API,
// successful grants by grant_type, and revocation requests with the live tokens they destroyed
// (RFC 7009 answers 200 for an unknown token too: only these counts say something was revoked).

// Test-only: a clock tests can move forward (DEV_IDP_TEST_CLOCK=1). The provider reads the time
// through Date.now when it checks and computes expiries, so they all follow it.
let clockOffsetMs = 0;
if (process.env.DEV_IDP_TEST_CLOCK === '1') {
  const realNow = Date.now;
  Date.now = () => realNow() + clockOffsetMs;
}

import { createServer } from 'node:http';
import { createHash, createPublicKey, generateKeyPairSync, randomBytes, verify as verifySignature } from 'node:crypto';
import { appendFileSync, readFileSync } from 'node:fs';
import Provider from 'oidc-provider';

const CLIENT_ID = 'latchkey-native';

function intEnv(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) {
    console.error(`dev-idp: ${name} must be a non-negative integer, got ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return value;
}

function choiceEnv(name, choices, fallback) {
  const raw = process.env[name] || fallback;
  if (!choices.includes(raw)) {
    console.error(`dev-idp: ${name} must be one of ${choices.join(', ')}, got ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return raw;
}

const port = intEnv('DEV_IDP_PORT', 0);
const accessTokenTtl = intEnv('DEV_IDP_ACCESS_TOKEN_TTL', 3600);
const refreshTokenTtl = intEnv('DEV_IDP_REFRESH_TOKEN_TTL', 14 * 24 * 3600);
const clockTolerance = intEnv('DEV_IDP_CLOCK_TOLERANCE', 15);
const refreshPolicy = choiceEnv('DEV_IDP_REFRESH_POLICY', ['offline_access', 'always', 'never'], 'offline_access');
const rotate = choiceEnv('DEV_IDP_ROTATE', ['true', 'false'], 'true') === 'true';
const quiet = process.env.DEV_IDP_QUIET === '1';
const dpopAlgs = (process.env.DEV_IDP_DPOP_ALGS || '').split(',').map((a) => a.trim()).filter(Boolean);
const dpopNonce = choiceEnv('DEV_IDP_DPOP_NONCE', ['off', 'token', 'api', 'both', 'token_forever', 'api_forever'], 'off');
const par = choiceEnv('DEV_IDP_PAR', ['on', 'required', 'off'], 'on');
const stepUpAcr = process.env.DEV_IDP_STEP_UP_ACR ?? 'urn:latchkey:mfa';
const stepUpMaxAge = process.env.DEV_IDP_STEP_UP_MAX_AGE ? intEnv('DEV_IDP_STEP_UP_MAX_AGE', 0) : undefined;
const ACR_PWD = 'urn:latchkey:pwd';
const ACR_MFA = 'urn:latchkey:mfa';
const DEV_OTP = '123456';
// Interactions whose second factor was given (their uid), until their login completes.
const secondFactor = new Set();
const quirks = new Set((process.env.DEV_IDP_QUIRKS || '').split(',').map((q) => q.trim()).filter(Boolean));
for (const quirk of quirks) {
  if (!['expires_in_string', 'bare_token_errors'].includes(quirk)) {
    console.error(`dev-idp: unknown DEV_IDP_QUIRKS entry ${JSON.stringify(quirk)}`);
    process.exit(2);
  }
}

const users = JSON.parse(readFileSync(new URL('./users.json', import.meta.url), 'utf8'));

// A fresh signing key per run: nothing long-lived, nothing checked in.
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: `dev-${randomBytes(4).toString('hex')}`, use: 'sig', alg: 'RS256' };

const httpServer = createServer();

await new Promise((resolve, reject) => {
  httpServer.once('error', reject);
  httpServer.listen(port, '127.0.0.1', resolve);
});
const issuer = `http://127.0.0.1:${httpServer.address().port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: CLIENT_ID,
    application_type: 'native',
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    // RFC 8252 §7.3: for native clients the server matches loopback redirects on any port.
    // dev.latchkey.app:/callback: a private-use scheme (§7.1), the mobile redirect's stand-in.
    redirect_uris: ['http://127.0.0.1/callback', 'http://[::1]/callback', 'dev.latchkey.app:/callback'],
    post_logout_redirect_uris: ['http://127.0.0.1/logged-out', 'http://[::1]/logged-out'],
  }],
  async findAccount(ctx, id) {
    if (!Object.hasOwn(users, id)) return undefined;
    return { accountId: id, async claims() { return { sub: id, ...users[id] }; } };
  },
  claims: {
    openid: ['sub'],
    profile: ['name', 'given_name', 'family_name', 'preferred_username'],
    email: ['email', 'email_verified'],
  },
  scopes: ['openid', 'offline_access', 'profile', 'email'],
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  ttl: {
    AccessToken: accessTokenTtl,
    RefreshToken: refreshTokenTtl,
    IdToken: 3600,
    AuthorizationCode: 60,
    Interaction: 600,
    Session: 14 * 24 * 3600,
    Grant: 14 * 24 * 3600,
  },
  clockTolerance,
  acrValues: [ACR_PWD, ACR_MFA],
  // The API reads the sign-in's level and time from its access tokens.
  async extraTokenClaims(ctx) {
    const source = ctx.oidc.entities.AuthorizationCode || ctx.oidc.entities.RefreshToken;
    if (!source) return undefined;
    return { acr: source.acr, auth_time: source.authTime };
  },
  ...(dpopAlgs.length > 0 ? { enabledJWA: { dPoPSigningAlgValues: dpopAlgs } } : {}),
  features: {
    devInteractions: { enabled: true },
    revocation: { enabled: true },
    dPoP: {
      enabled: true,
      nonceSecret: randomBytes(32),
      requireNonce: () => dpopNonce === 'token' || dpopNonce === 'both',
    },
    userinfo: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    pushedAuthorizationRequests: {
      enabled: par !== 'off',
      requirePushedAuthorizationRequests: par === 'required',
    },
  },
  async issueRefreshToken(ctx, client, code) {
    if (!client.grantTypeAllowed('refresh_token')) return false;
    switch (refreshPolicy) {
      case 'always': return true;
      case 'never': return false;
      default: return code.scopes.has('offline_access');
    }
  },
  rotateRefreshToken() {
    return rotate;
  },
});

// The login's level: urn:latchkey:mfa when it was asked for and the second factor was given.
const interactionFinished = provider.interactionFinished.bind(provider);
provider.interactionFinished = async (req, res, result, options) => {
  if (result && result.login) {
    const details = await provider.interactionDetails(req, res);
    const asked = String(details.params.acr_values || '').split(' ');
    const mfa = asked.includes(ACR_MFA) && secondFactor.has(details.uid);
    secondFactor.delete(details.uid);
    result.login.acr = mfa ? ACR_MFA : ACR_PWD;
    result.login.amr = mfa ? ['pwd', 'otp'] : ['pwd'];
  }
  return interactionFinished(req, res, result, options);
};

// What GET /api/step-up demands of the access token's sign-in (RFC 9470), or null when met.
function stepUpDemand(token) {
  const extra = token.extra || {};
  const acrMissing = stepUpAcr && extra.acr !== stepUpAcr;
  const now = Math.floor(Date.now() / 1000);
  const tooOld = stepUpMaxAge !== undefined && !(typeof extra.auth_time === 'number' && now - extra.auth_time <= stepUpMaxAge);
  if (!acrMissing && !tooOld) return null;
  const params = ['error="insufficient_user_authentication"', 'error_description="A stronger or more recent sign-in is required"'];
  if (stepUpAcr) params.push(`acr_values="${stepUpAcr}"`);
  if (stepUpMaxAge !== undefined) params.push(`max_age=${stepUpMaxAge}`);
  return params.join(', ');
}

// A protected demo API beside the IdP: GET /api/hello with a bearer access token.
async function demoApi(req, res, stepUp = false) {
  const send = (status, body, headers = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
    res.end(JSON.stringify(body));
  };
  stats.api_requests += 1;
  if (req.method !== 'GET') return send(405, { error: 'method_not_allowed' });
  const match = /^(Bearer|DPoP) ([A-Za-z0-9\-._~+/]+=*)$/.exec(req.headers.authorization || '');
  if (!match) {
    return send(401, { error: 'invalid_request' }, { 'www-authenticate': 'Bearer realm="latchkey-demo", DPoP algs="ES256"' });
  }
  const [, scheme, value] = match;
  const token = await provider.AccessToken.find(value);
  if (!token) {
    return send(401, { error: 'invalid_token' }, { 'www-authenticate': `${scheme} realm="latchkey-demo", error="invalid_token"` });
  }
  // A DPoP-bound token (cnf.jkt) is only good with a proof by its key (RFC 9449 §7).
  if (token.jkt || scheme === 'DPoP') {
    const problem = scheme !== 'DPoP'
      ? 'a DPoP-bound token must be sent with the DPoP scheme'
      : checkDpopProof(req, value, token.jkt);
    if (problem === 'use_dpop_nonce' || (!problem && dpopNonce === 'api_forever')) {
      return send(401, { error: 'use_dpop_nonce' }, {
        'www-authenticate': 'DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof"',
        'dpop-nonce': dpopNonce === 'api_forever' ? randomBytes(16).toString('base64url') : apiNonce(),
      });
    }
    if (problem) {
      return send(401, { error: 'invalid_token', error_description: problem }, {
        'www-authenticate': `DPoP realm="latchkey-demo", error="invalid_token", algs="ES256"`,
      });
    }
  }
  if (stepUp) {
    const demand = stepUpDemand(token);
    if (demand) {
      stats.step_up_demands += 1;
      return send(401, { error: 'insufficient_user_authentication' }, {
        'www-authenticate': `${scheme} realm="latchkey-demo", ${demand}`,
      });
    }
  }
  return send(200, {
    token_type: token.jkt ? 'DPoP' : 'Bearer',
    acr: token.extra?.acr,
    message: `Hello, ${token.accountId}! This response came from a protected API.`,
    sub: token.accountId,
    client_id: token.clientId,
    scope: token.scope,
    token_expires_at: new Date(token.exp * 1000).toISOString(),
    served_at: new Date().toISOString(),
  });
}

// The demo API's own DPoP nonces: a fresh one every 5 minutes (the previous one still accepted).
let apiNonces = [randomBytes(16).toString('base64url')];
let apiNonceAt = Date.now();
function apiNonce() {
  if (Date.now() - apiNonceAt > 300_000) {
    apiNonces = [randomBytes(16).toString('base64url'), apiNonces[0]];
    apiNonceAt = Date.now();
  }
  return apiNonces[0];
}

// RFC 9449 §4.3 and §7.1 for the demo API: the proof's signature by its embedded public key,
// typ, alg, jti, iat, htm, htu, ath, the key's thumbprint equal to the token's cnf.jkt, and the
// nonce when this API demands one. Returns a problem, 'use_dpop_nonce', or null.
const seenJti = new Map();
function checkDpopProof(req, accessToken, jkt) {
  const proof = req.headers.dpop;
  if (typeof proof !== 'string') return 'DPoP proof missing';
  const parts = proof.split('.');
  if (parts.length !== 3) return 'DPoP proof is not a compact JWS';
  let header;
  let claims;
  try {
    header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'));
    claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
  } catch {
    return 'DPoP proof is not JSON';
  }
  if (header.typ !== 'dpop+jwt') return 'DPoP proof typ';
  const jwk = header.jwk;
  if (!jwk || typeof jwk !== 'object' || jwk.d !== undefined) return 'DPoP proof jwk';
  const ec = header.alg === 'ES256' && jwk.kty === 'EC' && jwk.crv === 'P-256';
  const ed = header.alg === 'EdDSA' && jwk.kty === 'OKP' && jwk.crv === 'Ed25519';
  if (!ec && !ed) return 'DPoP proof alg';
  let ok = false;
  try {
    const data = Buffer.from(`${parts[0]}.${parts[1]}`);
    const signature = Buffer.from(parts[2], 'base64url');
    if (ec) {
      const key = createPublicKey({ key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y }, format: 'jwk' });
      ok = verifySignature('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, signature);
    } else {
      const key = createPublicKey({ key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x }, format: 'jwk' });
      ok = verifySignature(null, data, key, signature);
    }
  } catch {
    ok = false;
  }
  if (!ok) return 'DPoP proof signature';
  // RFC 7638: the required members in lexicographic order.
  const members = ec ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y } : { crv: jwk.crv, kty: jwk.kty, x: jwk.x };
  const thumbprint = createHash('sha256').update(JSON.stringify(members)).digest('base64url');
  if (!jkt || thumbprint !== jkt) return 'DPoP proof key is not the one the token is bound to';
  if (claims.htm !== req.method) return 'DPoP proof htm';
  const expected = new URL(req.url, issuer);
  expected.search = '';
  if (claims.htu !== expected.href) return 'DPoP proof htu';
  const ath = createHash('sha256').update(accessToken).digest('base64url');
  if (claims.ath !== ath) return 'DPoP proof ath';
  if (typeof claims.jti !== 'string' || !claims.jti) return 'DPoP proof jti';
  const now = Math.floor(Date.now() / 1000);
  if (typeof claims.iat !== 'number') return 'DPoP proof iat';
  // Freshness: the nonce when there is a valid one; else iat, and a client whose clock is off
  // (or a test that moved this server's clock) is given a nonce instead, like oidc-provider does.
  apiNonce();
  const nonceOk = typeof claims.nonce === 'string' && apiNonces.includes(claims.nonce);
  const nonceDemanded = dpopNonce === 'api' || dpopNonce === 'both';
  if (!nonceOk && (nonceDemanded || Math.abs(now - claims.iat) > 300)) return 'use_dpop_nonce';
  for (const [jti, at] of seenJti) if (at < now - 600) seenJti.delete(jti);
  if (seenJti.has(claims.jti)) return 'DPoP proof replayed';
  seenJti.set(claims.jti, now);
  return null;
}

// Counters for the benchmarks (GET /dev/stats): e.g. how many refresh requests 100 concurrent
// API calls on an expired access token really sent.
const stats = {
  token_requests: 0,
  api_requests: 0,
  step_up_demands: 0,
  grants: {},
  revocations: { requests: 0, refresh_tokens: 0, access_tokens: 0 },
};
provider.on('grant.success', (ctx) => {
  const grant = ctx.oidc.params.grant_type;
  stats.grants[grant] = (stats.grants[grant] || 0) + 1;
});
// The revocation endpoint names the live token it found (and destroyed) as an entity.
provider.use(async (ctx, next) => {
  await next();
  if (ctx.oidc?.route !== 'revocation') return;
  stats.revocations.requests += 1;
  if (ctx.status !== 200) return;
  if (ctx.oidc.entities.RefreshToken) stats.revocations.refresh_tokens += 1;
  if (ctx.oidc.entities.AccessToken) stats.revocations.access_tokens += 1;
});

// Test-only: record every secret this server issues (opaque tokens and codes are their jti).
const recordFile = process.env.DEV_IDP_RECORD_SECRETS;
if (recordFile) {
  for (const [event, kind] of [
    ['authorization_code.saved', 'authorization_code'],
    ['access_token.saved', 'access_token'],
    ['refresh_token.saved', 'refresh_token'],
  ]) {
    provider.on(event, (token) => appendFileSync(recordFile, `${JSON.stringify({ kind, value: token.jti })}\n`));
  }
  // A pushed request's one-time values never reach the browser's URL: recorded from the push.
  provider.on('pushed_authorization_request.success', (ctx) => {
    for (const kind of ['state', 'nonce', 'code_challenge']) {
      const value = ctx.oidc.params[kind];
      if (value) appendFileSync(recordFile, `${JSON.stringify({ kind, value })}\n`);
    }
  });
}

// The quirks rewrite the token endpoint's answer on its way out; the provider itself is unchanged.
function applyQuirks(res) {
  const end = res.end.bind(res);
  res.end = (body, ...rest) => {
    if (typeof body === 'function' || body === undefined || res.headersSent) return end(body, ...rest);
    let text = Buffer.isBuffer(body) ? body.toString('utf8') : String(body);
    if (res.statusCode === 200 && quirks.has('expires_in_string')) {
      try {
        const json = JSON.parse(text);
        if (typeof json.expires_in === 'number') json.expires_in = String(json.expires_in);
        text = JSON.stringify(json);
      } catch { /* not JSON: leave it */ }
    } else if (res.statusCode >= 400 && res.statusCode < 500 && quirks.has('bare_token_errors')) {
      res.statusCode = 400;
      res.removeHeader('content-type');
      res.removeHeader('www-authenticate');
      text = '';
    }
    res.setHeader('content-length', Buffer.byteLength(text));
    return end(text, ...rest);
  };
}

const callback = provider.callback();
httpServer.on('request', (req, res) => {
  // Node writes Date from new Date(), which doesn't read the moved Date.now: follow the test clock.
  if (process.env.DEV_IDP_TEST_CLOCK === '1') res.setHeader('date', new Date(Date.now()).toUTCString());
  if (req.method === 'POST' && (req.url === '/token' || req.url.startsWith('/token?'))) {
    stats.token_requests += 1;
    if (dpopNonce === 'token_forever') {
      res.writeHead(400, { 'content-type': 'application/json', 'cache-control': 'no-store', 'dpop-nonce': randomBytes(16).toString('base64url') });
      res.end(JSON.stringify({ error: 'use_dpop_nonce', error_description: 'a new nonce, every time' }));
      return;
    }
    if (quirks.size > 0) applyQuirks(res);
  }
  if (process.env.DEV_IDP_TEST_CLOCK === '1' && req.method === 'POST' && req.url.startsWith('/dev/clock?')) {
    const seconds = Number(new URL(req.url, issuer).searchParams.get('advance'));
    if (!Number.isInteger(seconds)) {
      res.writeHead(400);
      res.end();
      return;
    }
    clockOffsetMs += seconds * 1000;
    res.writeHead(204, { 'cache-control': 'no-store' });
    res.end();
    return;
  }
  if (req.method === 'GET' && req.url === '/dev/stats') {
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify(stats));
    return;
  }
  if (!quiet) {
    res.on('finish', () => {
      // Paths only: query strings carry codes and tokens.
      console.error(`dev-idp: ${req.method} ${req.url.split('?')[0]} -> ${res.statusCode}`);
    });
  }
  if (req.url === '/api/echo' || req.url.startsWith('/api/echo?')) {
    // A hostile-but-common API: echoes the request's headers (like httpbin's /headers), so that
    // tests can show a response carrying the access token or DPoP proof never reaches the UI.
    stats.api_requests += 1;
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify({ headers: req.headers }));
    return;
  }
  const otp = /^\/interaction\/([A-Za-z0-9_-]+)\/otp$/.exec(req.url);
  if (req.method === 'POST' && otp) {
    // The second factor of a login (the dev code 123456), given before the login form.
    let body = '';
    req.on('data', (chunk) => { body += chunk; if (body.length > 1024) req.destroy(); });
    req.on('end', () => {
      const ok = new URLSearchParams(body).get('otp') === DEV_OTP;
      if (ok) secondFactor.add(otp[1]);
      res.writeHead(ok ? 204 : 400, { 'cache-control': 'no-store' });
      res.end();
    });
    return;
  }
  const stepUpRoute = req.url === '/api/step-up' || req.url.startsWith('/api/step-up?');
  if (stepUpRoute || req.url === '/api/hello' || req.url.startsWith('/api/hello?')) {
    demoApi(req, res, stepUpRoute).catch((err) => {
      console.error('dev-idp: demo API error', err);
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
    return;
  }
  callback(req, res);
});

process.stdout.write(`${JSON.stringify({ issuer, client_id: CLIENT_ID, api: `${issuer}/api/hello`, step_up_api: `${issuer}/api/step-up` })}\n`);

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    httpServer.close();
    process.exit(0);
  });
}
