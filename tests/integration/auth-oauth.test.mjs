// The auth plugin's OAuth sign-in against a fake GitHub-like provider (fakes/oauth-provider.mjs):
// /authorize → the provider → /callback → the app with the session in the fragment; the
// identity created once and linked on later sign-ins (and to a confirmed email user with the
// same verified address); the redirect allow list; tampered state; PKCE (code_challenge →
// ?code= → POST /token?grant_type=pkce, wrong verifier, single use). Browsers send no apikey to
// /authorize and /callback, so neither do these tests.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeJwt, expectStatus, fmt, randomHex, request } from './harness.mjs';
import { startOAuthProvider } from './fakes/oauth-provider.mjs';
import {
  SITE_URL,
  createProject,
  expectAuthError,
  expectClaims,
  expectFragmentSession,
  expectSession,
  itFor,
  lit,
  newEmail,
  pkcePair,
  startAuthServer,
} from './auth-helpers.mjs';

const CLIENT_ID = `client-${randomHex(4)}`;
const CLIENT_SECRET = `secret-${randomHex(12)}`;
const CB = `${SITE_URL}/cb`;

let env;
let P;
let fake;

before(async () => {
  fake = await startOAuthProvider({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET });
  env = await startAuthServer();
  P = await createProject(env.server, env.sink, 'oauth', { site_url: SITE_URL, redirect_urls: [`${SITE_URL}/**`] });
});
after(async () => {
  await env?.close();
  await fake?.close();
});

const it = itFor(() => env?.server, test);

function enableGithub(extra = {}) {
  return P.settings({
    providers: {
      github: {
        enabled: true,
        client_id: CLIENT_ID,
        secret: CLIENT_SECRET,
        authorize_url: `${fake.url}/authorize`,
        token_url: `${fake.url}/token`,
        userinfo_url: `${fake.url}/user`,
        emails_url: `${fake.url}/user/emails`,
        ...extra,
      },
    },
  });
}

/** A GET without apikey or redirects, to our server or to the fake (by the URL's origin). */
function browserGet(url) {
  const u = new URL(url);
  return request(`${u.protocol}//${u.host}`, 'GET', `${u.pathname}${u.search}`);
}

/**
 * The whole dance: our /authorize → the provider's /authorize → our /callback.
 * Returns { start, provider, callback (the response of /callback), location, target, fragment, query }.
 */
async function oauthFlow({ redirectTo = CB, extraQuery = '', tamper } = {}) {
  const q = `provider=github${redirectTo === null ? '' : `&redirect_to=${encodeURIComponent(redirectTo)}`}${extraQuery}`;
  const start = await request(env.server.url, 'GET', `${P.base}/authorize?${q}`);
  assert.ok(start.status === 302 || start.status === 303, `GET /authorize: ${fmt(start)}`);
  const toProvider = new URL(start.headers.location);
  assert.equal(`${toProvider.origin}${toProvider.pathname}`, `${fake.url}/authorize`, `to the provider: ${start.headers.location}`);
  const provider = await browserGet(toProvider.toString());
  assert.equal(provider.status, 302, `fake /authorize: ${provider.text}`);
  let back = new URL(provider.headers.location);
  if (tamper) back = tamper(back);
  const callback = await browserGet(back.toString());
  const location = callback.headers.location;
  const target = location ? new URL(location, env.server.url) : null;
  return {
    start,
    toProvider,
    provider,
    callbackUrl: back,
    callback,
    location,
    target,
    fragment: new URLSearchParams(target ? target.hash.replace(/^#/, '') : ''),
    query: target ? target.searchParams : new URLSearchParams(),
  };
}

const providerUser = (extra = {}) =>
  fake.setUser({ id: 100000 + Math.floor(Math.random() * 800000), email: newEmail('gh'), name: `Octo ${randomHex(2)}`, email_verified: true, ...extra });

// ---------------------------------------------------------------------------------------------

it('github is off until enabled: /settings says false and /authorize answers 400', async () => {
  assert.equal(expectStatus(await P.auth('GET', '/settings'), 200).json.external.github, false);
  const r = await request(env.server.url, 'GET', `${P.base}/authorize?provider=github&redirect_to=${encodeURIComponent(CB)}`);
  expectAuthError(r, 400, ['validation_failed', 'provider_disabled']);
  const unknown = await request(env.server.url, 'GET', `${P.base}/authorize?provider=myspace`);
  expectAuthError(unknown, 400, ['validation_failed', 'provider_disabled']);
});

it('authorize → provider → callback → the app with a session in the fragment; user and github identity created', async () => {
  await enableGithub();
  assert.equal(expectStatus(await P.auth('GET', '/settings'), 200).json.external.github, true);
  const pu = providerUser();
  const fl = await oauthFlow();
  const q = fl.toProvider.searchParams;
  assert.equal(q.get('client_id'), CLIENT_ID);
  assert.equal(q.get('redirect_uri'), `${env.server.url}${P.base}/callback`, `redirect_uri: ${fl.toProvider}`);
  assert.equal(q.get('response_type'), 'code');
  assert.ok(q.get('state') && q.get('state').length >= 16, `state: ${fl.toProvider}`);
  assert.match(String(q.get('scope')), /user:email/);

  assert.ok(fl.callback.status === 302 || fl.callback.status === 303, `callback: ${fmt(fl.callback)}`);
  assert.ok(fl.location.startsWith(`${CB}#`), `Location: ${fl.location}`);
  const claims = expectFragmentSession(fl.fragment);
  assert.equal(claims.email, pu.email);
  assert.equal(claims.app_metadata.provider, 'github');
  assert.ok(claims.app_metadata.providers.includes('github'), JSON.stringify(claims.app_metadata));
  assert.equal(claims.amr?.[0]?.method, 'oauth', JSON.stringify(claims.amr));

  const tokenReq = fake.requestsTo('/token', 'POST').at(-1);
  assert.ok(tokenReq, 'the plugin exchanged the code');
  assert.equal(tokenReq.clientAuth.secret, CLIENT_SECRET);
  assert.equal(tokenReq.form.redirect_uri, q.get('redirect_uri'));
  assert.ok(fake.requestsTo('/user', 'GET').length >= 1, 'the plugin read the profile');

  const me = expectStatus(await P.getUser(fl.fragment.get('access_token')), 200);
  assert.equal(me.json.id, claims.sub);
  assert.equal(me.json.email, pu.email);
  assert.ok(me.json.email_confirmed_at, `a verified provider email confirms the user: ${fmt(me)}`);
  const gh = me.json.identities.find((i) => i.provider === 'github');
  assert.ok(gh, `github identity: ${fmt(me)}`);
  assert.equal(String(gh.identity_data?.sub ?? gh.id), String(pu.id), JSON.stringify(gh));
  assert.equal(me.json.user_metadata.avatar_url, pu.avatar_url, JSON.stringify(me.json.user_metadata));
  assert.ok([me.json.user_metadata.full_name, me.json.user_metadata.name].includes(pu.name), JSON.stringify(me.json.user_metadata));
  assert.equal(P.sql(`select count(*) from auth.identities where provider = 'github' and provider_id = ${lit(String(pu.id))} and user_id = ${lit(claims.sub)}`), '1');
  expectSession(await P.refresh(fl.fragment.get('refresh_token')), { userId: claims.sub });
  assert.ok(!env.server.output.includes(CLIENT_SECRET), 'the client secret is not logged');
});

it('the same provider user again: the same user, one identity, no duplicate', async () => {
  await enableGithub();
  const pu = providerUser();
  const first = expectFragmentSession((await oauthFlow()).fragment);
  fake.setUser({ ...pu, name: 'Renamed' });
  const second = expectFragmentSession((await oauthFlow()).fragment);
  assert.equal(second.sub, first.sub);
  assert.notEqual(second.session_id, first.session_id, 'a new session');
  assert.equal(P.sql(`select count(*) from auth.identities where provider = 'github' and provider_id = ${lit(String(pu.id))}`), '1');
  assert.equal(P.sql(`select count(*) from auth.users where email = ${lit(pu.email)}`), '1');
});

it('a verified provider email of an existing confirmed user links to that user (providers email and github)', async () => {
  await enableGithub();
  const u = await P.createUser();
  providerUser({ email: u.email, email_verified: true });
  const fl = await oauthFlow();
  const claims = expectFragmentSession(fl.fragment);
  assert.equal(claims.sub, u.id, 'linked to the existing user');
  const me = expectStatus(await P.getUser(fl.fragment.get('access_token')), 200);
  assert.deepEqual([...me.json.app_metadata.providers].sort(), ['email', 'github'], fmt(me));
  expectSession(await P.signIn(u.email, u.password), { userId: u.id });
});

it('redirect_to outside the allow list (or none) falls back to the site URL', async () => {
  await enableGithub();
  providerUser();
  const evil = await oauthFlow({ redirectTo: 'http://evil.example/cb' });
  assert.ok(evil.location.startsWith(SITE_URL), `Location: ${evil.location}`);
  assert.ok(!evil.location.includes('evil.example'), evil.location);
  expectFragmentSession(evil.fragment);
  const sneaky = await oauthFlow({ redirectTo: 'http://localhost:3000.evil.example/cb' });
  assert.ok(!new URL(sneaky.location).host.includes('evil'), sneaky.location);
  providerUser();
  const none = await oauthFlow({ redirectTo: null });
  assert.ok(none.location.startsWith(SITE_URL), none.location);
  expectFragmentSession(none.fragment);
});

it('a tampered state or a replayed callback gives no session (an error redirect or a 4xx)', async () => {
  await enableGithub();
  providerUser();
  const noSession = (fl, what) => {
    assert.ok(fl.callback.status < 500, `${what}: ${fmt(fl.callback)}`);
    if (fl.callback.status === 302 || fl.callback.status === 303) {
      assert.ok(!fl.fragment.get('access_token') && !fl.query.get('code'), `${what} must not sign in: ${fl.location}`);
      assert.ok(fl.fragment.get('error') || fl.query.get('error'), `${what}: error in the redirect: ${fl.location}`);
    } else {
      expectAuthError(fl.callback, [400, 401, 403, 404]);
    }
  };
  const tampered = await oauthFlow({
    tamper: (u) => {
      const s = u.searchParams.get('state');
      const i = Math.floor(s.length / 2);
      u.searchParams.set('state', s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1));
      return u;
    },
  });
  noSession(tampered, 'tampered state');
  const noState = await oauthFlow({ tamper: (u) => (u.searchParams.delete('state'), u) });
  noSession(noState, 'no state');
  const ok = await oauthFlow();
  expectFragmentSession(ok.fragment);
  const replay = await browserGet(ok.callbackUrl.toString());
  const loc = replay.headers.location ? new URL(replay.headers.location, env.server.url) : null;
  noSession({ callback: replay, location: replay.headers.location, fragment: new URLSearchParams(loc ? loc.hash.slice(1) : ''), query: loc ? loc.searchParams : new URLSearchParams() }, 'replayed callback');
  const denied = await request(env.server.url, 'GET', `${P.base}/callback?error=access_denied&error_description=nope&state=${encodeURIComponent(ok.toProvider.searchParams.get('state'))}`);
  assert.ok(denied.status < 500, fmt(denied));
  if (denied.headers.location) assert.ok(!denied.headers.location.includes('access_token'), denied.headers.location);
});

it('PKCE: the callback redirects with ?code=; POST /token?grant_type=pkce exchanges it once; a wrong verifier is refused', async () => {
  await enableGithub();
  const pu = providerUser();
  const { verifier, challenge } = pkcePair();
  const fl = await oauthFlow({ extraQuery: `&code_challenge=${challenge}&code_challenge_method=s256` });
  assert.ok(fl.callback.status === 302 || fl.callback.status === 303, fmt(fl.callback));
  assert.ok(fl.location.startsWith(`${CB}?`), `Location: ${fl.location}`);
  assert.ok(!fl.location.includes('access_token'), 'no tokens in a PKCE redirect');
  const code = fl.query.get('code');
  assert.ok(code, `?code= in ${fl.location}`);
  const wrong = await P.auth('POST', '/token?grant_type=pkce', { body: { auth_code: code, code_verifier: pkcePair().verifier } });
  expectAuthError(wrong, [400, 403], 'bad_code_verifier');
  expectAuthError(await P.auth('POST', '/token?grant_type=pkce', { body: { auth_code: code } }), 400, 'validation_failed');
  const s = expectSession(await P.auth('POST', '/token?grant_type=pkce', { body: { auth_code: code, code_verifier: verifier } }), { email: pu.email });
  expectClaims(s.claims, { user: s.user, method: 'oauth' });
  const again = await P.auth('POST', '/token?grant_type=pkce', { body: { auth_code: code, code_verifier: verifier } });
  expectAuthError(again, [400, 403, 404], ['flow_state_not_found', 'flow_state_expired', 'bad_code_verifier']);
  assert.equal(decodeJwt(s.access_token).payload.app_metadata.provider, 'github');
});

it('PKCE with the plain method and a PKCE flow started without redirect_to', async () => {
  await enableGithub();
  providerUser();
  const verifier = pkcePair().verifier;
  const fl = await oauthFlow({ redirectTo: null, extraQuery: `&code_challenge=${verifier}&code_challenge_method=plain` });
  assert.ok(fl.location.startsWith(SITE_URL), fl.location);
  const code = fl.query.get('code');
  assert.ok(code, fl.location);
  expectSession(await P.auth('POST', '/token?grant_type=pkce', { body: { auth_code: code, code_verifier: verifier } }));
});
