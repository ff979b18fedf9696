// supabase.auth.signInWithOAuth (GoTrue wire protocol, /auth/v1) through the official supabase-js
// client against a fake GitHub-like provider (tests/integration/fakes/oauth-provider.mjs): the
// implicit flow (fragment → setSession → getUser, the session under RLS on /rest/v1), the PKCE
// flow (code_challenge → ?code= → exchangeCodeForSession, single use), the same provider user
// signing in twice, linking to an email/password user with the same verified address, and a
// disabled provider (400 validation_failed). supabase-js only builds the /authorize URL
// (skipBrowserRedirect); the browser's hops (our /authorize → the provider → our /callback → the
// app) are played by hand with fetch(url, { redirect: 'manual' }), without apikey, as a browser.
import { after } from 'node:test';
import crypto from 'node:crypto';
import { isAuthApiError } from '@supabase/supabase-js';
import { defineSuite, assert, ok } from './lib.mjs';
import { startOAuthProvider } from '../integration/fakes/oauth-provider.mjs';
import { randomHex, decodeJwt } from '../integration/harness.mjs';

const SITE_URL = 'http://localhost:3000';
const CB = `${SITE_URL}/cb`;
const CLIENT_ID = `e2e-client-${randomHex(4)}`;
const CLIENT_SECRET = `e2e-secret-${randomHex(12)}`;
let fake;

// 'main': github enabled (autoconfirm on, for the email/password user of the linking test);
// 'off': github fully configured but enabled: false.
const ctx = defineSuite('auth-oauth', {
  projects: ['main', 'off'],
  env: async () => {
    fake = await startOAuthProvider({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET });
    return {
      ALPACA_AUTH_BCRYPT_COST: '4',
      ALPACA_AUTH_RATE_LIMIT_PER_IP: '100000',
      ALPACA_AUTH_RATE_LIMIT_PER_EMAIL: '100000',
      ALPACA_AUTH_RATE_LIMIT_REFRESH_PER_IP: '100000',
    };
  },
});
after(async () => {
  await fake?.close();
});
const t = ctx.test;

// ---------------------------------------------------------------------------------------------
// helpers

const show = (v) => JSON.stringify(v)?.slice(0, 800);
const newEmail = (tag = 'user') => `${tag}-${randomHex(5)}@example.com`;
const newPassword = (tag = 'pw') => `${tag}-${randomHex(6)}-Zq9!`;

/** The fake provider's next user: a fresh GitHub id and address unless given. */
const providerUser = (extra = {}) =>
  fake.setUser({
    id: 100000 + Math.floor(Math.random() * 800000),
    email: newEmail('gh'),
    name: `Octo ${randomHex(2)}`,
    email_verified: true,
    ...extra,
  });

const githubConfig = (enabled) => ({
  github: {
    enabled,
    client_id: CLIENT_ID,
    secret: CLIENT_SECRET,
    authorize_url: `${fake.url}/authorize`,
    token_url: `${fake.url}/token`,
    userinfo_url: `${fake.url}/user`,
    emails_url: `${fake.url}/user/emails`,
  },
});

/** Management API with the admin PAT (logged with the test's exchanges). */
async function mgmt(method, path, body) {
  const res = await ctx.server.api(method, path, { body });
  ctx.log.push({
    method,
    url: `${ctx.server.url}${path}`,
    headers: { authorization: 'Bearer <admin PAT>', apikey: '-' },
    body: body === undefined ? undefined : JSON.stringify(body),
    status: res.status,
    response: res.text,
  });
  return res;
}

/**
 * One browser hop: GET without apikey and without following the redirect (logged with the test's
 * exchanges) → { status, location, headers, text, json }.
 */
async function hop(url) {
  const entry = { method: 'GET', url, headers: {} };
  ctx.log.push(entry);
  const res = await fetch(url, { redirect: 'manual' });
  const text = await res.text();
  entry.status = res.status;
  entry.resHeaders = Object.fromEntries(res.headers);
  entry.response = `Location: ${res.headers.get('location')} ${text}`;
  let json;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: res.status, location: res.headers.get('location'), headers: res.headers, text, json };
}

const isRedirect = (s) => s === 302 || s === 303;

/**
 * The browser's part of an OAuth sign-in, starting from the URL supabase-js built:
 * our /authorize → the provider's /authorize → our /callback → the app.
 * → { toProvider (URL), callbackUrl (URL), final (the /callback response), target (URL of its
 *     Location), fragment, query }
 */
async function browse(url, p = ctx.project) {
  const start = await hop(url);
  assert.ok(isRedirect(start.status), `our /authorize must redirect to the provider: ${start.status} ${start.text}`);
  const toProvider = new URL(start.location);
  assert.equal(`${toProvider.origin}${toProvider.pathname}`, `${fake.url}/authorize`, `to the provider: ${start.location}`);
  assert.equal(toProvider.searchParams.get('client_id'), CLIENT_ID, `client_id: ${start.location}`);
  const provider = await hop(toProvider.href);
  assert.equal(provider.status, 302, `fake provider /authorize: ${provider.status} ${provider.text}`);
  const callbackUrl = new URL(provider.location);
  assert.equal(`${callbackUrl.origin}${callbackUrl.pathname}`, `${p.url}/auth/v1/callback`, `back to our callback: ${provider.location}`);
  const final = await hop(callbackUrl.href);
  assert.ok(isRedirect(final.status), `our /callback must redirect to the app: ${final.status} ${final.text}`);
  assert.ok(final.location, 'Location of /callback');
  const target = new URL(final.location, ctx.server.url);
  return {
    toProvider,
    callbackUrl,
    final,
    target,
    fragment: new URLSearchParams(target.hash.replace(/^#/, '')),
    query: target.searchParams,
  };
}

/** Asserts supabase-js built a URL to this project's /auth/v1/authorize for github → URL. */
function authorizeUrl(data, p = ctx.project) {
  assert.equal(data?.provider, 'github', `signInWithOAuth data: ${show(data)}`);
  assert.equal(typeof data.url, 'string', `signInWithOAuth data.url: ${show(data)}`);
  const u = new URL(data.url);
  assert.equal(`${u.origin}${u.pathname}`, `${p.url}/auth/v1/authorize`, `data.url: ${data.url}`);
  assert.equal(u.searchParams.get('provider'), 'github', `data.url: ${data.url}`);
  return u;
}

/** An implicit-flow sign-in with a fresh anon client → { client, fragment, claims, flow }. */
async function implicitSignIn(p = 'main') {
  const client = ctx.anon(p);
  const { data, error } = await client.auth.signInWithOAuth({
    provider: 'github',
    options: { redirectTo: CB, skipBrowserRedirect: true },
  });
  assert.equal(error, null, `signInWithOAuth: ${show(error)}`);
  const u = authorizeUrl(data, ctx.p[p]);
  assert.equal(u.searchParams.get('redirect_to'), CB, `redirect_to in ${data.url}`);
  assert.equal(u.searchParams.get('code_challenge'), null, `implicit flow sends no code_challenge: ${data.url}`);
  const flow = await browse(data.url, ctx.p[p]);
  assert.ok(flow.final.location.startsWith(`${CB}#`), `implicit flow lands on ${CB}#...: ${flow.final.location}`);
  const f = flow.fragment;
  assert.ok(f.get('access_token'), `access_token in the fragment: ${flow.final.location}`);
  assert.ok(f.get('refresh_token'), `refresh_token in the fragment: ${flow.final.location}`);
  assert.equal(f.get('token_type'), 'bearer', `token_type in the fragment: ${flow.final.location}`);
  assert.ok(Number(f.get('expires_in')) > 0, `expires_in in the fragment: ${flow.final.location}`);
  return { client, fragment: f, claims: decodeJwt(f.get('access_token')).payload, flow };
}

/** setSession from a fragment, then getUser → user. */
async function adoptFragment(client, fragment) {
  const set = ok(
    await client.auth.setSession({
      access_token: fragment.get('access_token'),
      refresh_token: fragment.get('refresh_token'),
    }),
    'setSession',
  );
  assert.equal(set.session?.access_token, fragment.get('access_token'), `setSession keeps the token: ${show(set.session)}`);
  return ok(await client.auth.getUser(), 'getUser').user;
}

// ---------------------------------------------------------------------------------------------
// setup

t('setup: github on the fake provider (enabled on main, disabled on off), redirect allow list, RLS table', async () => {
  const main = await mgmt('PATCH', `/projects/${ctx.p.main.id}/auth/providers`, {
    autoconfirm: true,
    site_url: SITE_URL,
    redirect_urls: [`${SITE_URL}/**`],
    providers: githubConfig(true),
  });
  assert.equal(main.status, 200, `PATCH main auth/providers: ${main.status} ${main.text}`);
  assert.equal(main.json.providers?.github?.enabled, true, main.text);
  assert.equal(main.json.providers?.github?.secret_set, true, main.text);
  assert.ok(!main.text.includes(CLIENT_SECRET), 'the secret is never returned');
  const off = await mgmt('PATCH', `/projects/${ctx.p.off.id}/auth/providers`, {
    site_url: SITE_URL,
    redirect_urls: [`${SITE_URL}/**`],
    providers: githubConfig(false),
  });
  assert.equal(off.status, 200, `PATCH off auth/providers: ${off.status} ${off.text}`);
  assert.equal(off.json.providers?.github?.enabled, false, off.text);

  for (const [name, want] of [
    ['main', true],
    ['off', false],
  ]) {
    const s = await fetch(`${ctx.p[name].url}/auth/v1/settings`, { headers: { apikey: ctx.p[name].anonKey } });
    const text = await s.text();
    assert.equal(s.status, 200, `GET ${name} /auth/v1/settings: ${text}`);
    assert.equal(JSON.parse(text).external?.github, want, `${name} settings.external.github: ${text}`);
  }

  await ctx.sql(`
    create table oauth_notes (
      id serial primary key,
      user_id uuid not null default auth.uid() references auth.users(id) on delete cascade,
      body text
    );
    alter table oauth_notes enable row level security;
    create policy oauth_notes_own on oauth_notes using (user_id = auth.uid()) with check (user_id = auth.uid());
  `);
});

// ---------------------------------------------------------------------------------------------
// implicit flow

t('implicit flow: signInWithOAuth URL → provider → callback → #access_token; setSession, getUser; RLS on /rest/v1', async () => {
  const pu = providerUser();
  const before = fake.requestsTo('/token', 'POST').length;
  const { client, fragment, claims, flow } = await implicitSignIn();

  // what our /authorize sent to the provider, and what the provider was asked afterwards
  const q = flow.toProvider.searchParams;
  assert.equal(q.get('response_type'), 'code', `to the provider: ${flow.toProvider}`);
  assert.equal(q.get('redirect_uri'), `${ctx.project.url}/auth/v1/callback`, `redirect_uri: ${flow.toProvider}`);
  assert.ok(q.get('state'), `state: ${flow.toProvider}`);
  assert.equal(fake.requestsTo('/token', 'POST').length, before + 1, 'the server exchanged the provider code once');
  assert.ok(!fragment.get('code'), 'no PKCE code in an implicit redirect');

  assert.equal(claims.email, pu.email, `claims: ${show(claims)}`);
  assert.equal(claims.role, 'authenticated', `claims: ${show(claims)}`);
  assert.equal(claims.app_metadata?.provider, 'github', `claims: ${show(claims)}`);

  const user = await adoptFragment(client, fragment);
  assert.equal(user.id, claims.sub);
  assert.equal(user.email, pu.email, `getUser: ${show(user)}`);
  assert.ok(user.email_confirmed_at, `a verified provider address confirms the user: ${show(user)}`);
  assert.equal(user.app_metadata?.provider, 'github', `app_metadata: ${show(user.app_metadata)}`);
  assert.deepEqual(user.app_metadata?.providers, ['github'], `app_metadata: ${show(user.app_metadata)}`);
  assert.ok(Array.isArray(user.identities) && user.identities.length === 1, `identities: ${show(user.identities)}`);
  assert.equal(user.identities[0].provider, 'github', `identities: ${show(user.identities)}`);
  assert.equal(user.identities[0].user_id, user.id, `identities: ${show(user.identities)}`);
  assert.equal(String(user.identities[0].identity_data?.sub ?? user.identities[0].id), String(pu.id), `identities: ${show(user.identities)}`);
  assert.equal(user.user_metadata?.avatar_url, pu.avatar_url, `user_metadata: ${show(user.user_metadata)}`);

  const gs = ok(await client.auth.getSession(), 'getSession');
  assert.equal(gs.session?.access_token, fragment.get('access_token'), 'getSession returns the adopted session');
  assert.equal(gs.session?.user?.id, user.id);

  // /rest/v1 with the session's token: RLS by auth.uid()
  const ins = ok(await client.from('oauth_notes').insert([{ body: 'gh-1' }, { body: 'gh-2' }]).select('user_id,body'), 'insert as the OAuth user');
  assert.deepEqual(ins, [
    { user_id: user.id, body: 'gh-1' },
    { user_id: user.id, body: 'gh-2' },
  ]);
  assert.deepEqual(ok(await client.from('oauth_notes').select('user_id,body').order('id'), 'select as the OAuth user'), [
    { user_id: user.id, body: 'gh-1' },
    { user_id: user.id, body: 'gh-2' },
  ]);
  assert.deepEqual(ok(await ctx.anon().from('oauth_notes').select('*'), 'select as anon'), [], 'anon sees none');
  const other = ctx.user(crypto.randomUUID(), 'nobody@example.com');
  assert.deepEqual(ok(await other.from('oauth_notes').select('*'), 'select as another user'), [], 'another user sees none');
  const rows = await ctx.sql(`select user_id::text, body from oauth_notes where body like 'gh-%' order by id`);
  assert.deepEqual(rows, [
    { user_id: user.id, body: 'gh-1' },
    { user_id: user.id, body: 'gh-2' },
  ]);

  // the refresh token of the OAuth session works through supabase-js
  const r = ok(await client.auth.refreshSession(), 'refreshSession');
  assert.equal(r.session?.user?.id, user.id, `refreshSession: ${show(r.session)}`);
  assert.notEqual(r.session.refresh_token, fragment.get('refresh_token'), 'the refresh token rotated');
});

// ---------------------------------------------------------------------------------------------
// PKCE flow

t('PKCE flow: code_challenge in the URL → ?code= → exchangeCodeForSession; the same code again fails', async () => {
  const pu = providerUser();
  const client = ctx.client(ctx.project.anonKey, 'main', {
    auth: {
      flowType: 'pkce',
      persistSession: false,
      autoRefreshToken: false,
      detectSessionInUrl: false,
      storageKey: `e2e-${randomHex(6)}`,
    },
  });
  const { data, error } = await client.auth.signInWithOAuth({
    provider: 'github',
    options: { redirectTo: CB, skipBrowserRedirect: true },
  });
  assert.equal(error, null, `signInWithOAuth: ${show(error)}`);
  const u = authorizeUrl(data);
  const challenge = u.searchParams.get('code_challenge');
  assert.ok(challenge && challenge.length >= 43, `code_challenge in ${data.url}`);
  assert.equal(u.searchParams.get('code_challenge_method'), 's256', `code_challenge_method in ${data.url}`);
  assert.equal(u.searchParams.get('redirect_to'), CB, `redirect_to in ${data.url}`);

  const flow = await browse(data.url);
  assert.ok(flow.final.location.startsWith(`${CB}?`), `PKCE lands on ${CB}?code=...: ${flow.final.location}`);
  assert.ok(!flow.final.location.includes('access_token'), `no tokens in a PKCE redirect: ${flow.final.location}`);
  const code = flow.query.get('code');
  assert.ok(code, `?code= in ${flow.final.location}`);

  // keep the stored verifier, so the same exchange can be sent a second time
  const stored = { ...client.auth.memoryStorage };
  assert.ok(Object.keys(stored).some((k) => k.includes('code-verifier')), `a stored verifier: ${show(Object.keys(stored))}`);

  const x = ok(await client.auth.exchangeCodeForSession(code), 'exchangeCodeForSession');
  assert.ok(x.session?.access_token && x.session.refresh_token, `session: ${show(x.session)}`);
  assert.equal(x.session.token_type, 'bearer');
  assert.equal(x.user?.email, pu.email, `user: ${show(x.user)}`);
  assert.equal(x.user.app_metadata?.provider, 'github', `user: ${show(x.user)}`);
  assert.equal(x.user.identities?.[0]?.provider, 'github', `identities: ${show(x.user.identities)}`);
  const claims = decodeJwt(x.session.access_token).payload;
  assert.equal(claims.sub, x.user.id);
  assert.equal(claims.amr?.[0]?.method, 'oauth', `amr: ${show(claims.amr)}`);

  // the exchange carried the verifier of the challenge in the URL
  const exchange = ctx.log.find((e) => e.url.includes('grant_type=pkce'));
  assert.ok(exchange, 'POST /token?grant_type=pkce was sent');
  const sent = JSON.parse(exchange.body);
  assert.equal(sent.auth_code, code);
  assert.equal(crypto.createHash('sha256').update(sent.code_verifier).digest('base64url'), challenge, 'S256(verifier) = challenge');

  const me = ok(await client.auth.getUser(), 'getUser after the exchange').user;
  assert.equal(me.id, x.user.id);
  assert.equal(me.email, pu.email);

  // the same code a second time (same verifier, put back): the server refuses it
  Object.assign(client.auth.memoryStorage, stored);
  const sentBefore = ctx.log.filter((e) => e.url.includes('grant_type=pkce')).length;
  const again = await client.auth.exchangeCodeForSession(code);
  assert.equal(ctx.log.filter((e) => e.url.includes('grant_type=pkce')).length, sentBefore + 1, 'the second exchange reached the server');
  assert.ok(again.error, `a used code must not give a session: ${show(again.data)}`);
  assert.equal(again.data?.session, null, show(again.data));
  assert.ok(isAuthApiError(again.error), `${again.error.name}: ${again.error.message}`);
  assert.ok([400, 403, 404].includes(again.error.status), `status ${again.error.status}: ${again.error.message}`);
  assert.ok(
    ['flow_state_not_found', 'flow_state_expired', 'bad_code_verifier'].includes(again.error.code),
    `error code ${again.error.code}: ${again.error.message}`,
  );
});

// ---------------------------------------------------------------------------------------------
// identities

t('the same provider user twice → the same user; an email/password user with the verified address gets github linked', async () => {
  const pu = providerUser();
  const first = await implicitSignIn();
  fake.setUser({ ...pu, name: 'Renamed Octo' });
  const second = await implicitSignIn();
  assert.equal(second.claims.sub, first.claims.sub, 'the same provider user is the same user');
  assert.notEqual(second.claims.session_id, first.claims.session_id, 'a new session');
  const u2 = await adoptFragment(second.client, second.fragment);
  assert.equal(u2.id, first.claims.sub);
  assert.equal(u2.identities.length, 1, `one identity: ${show(u2.identities)}`);
  const count = await ctx.sql(`select count(*)::int as n from auth.users where email = '${pu.email}'`);
  assert.deepEqual(count, [{ n: 1 }], 'one auth.users row');

  // an email/password user (autoconfirm: confirmed) ...
  const email = newEmail('linked');
  const password = newPassword('linked');
  const pwClient = ctx.anon();
  const su = ok(await pwClient.auth.signUp({ email, password }), 'signUp');
  assert.ok(su.session, `autoconfirm sign-up gives a session: ${show(su)}`);
  const uid = su.user.id;
  assert.deepEqual(su.user.app_metadata?.providers, ['email'], show(su.user.app_metadata));

  // ... then GitHub with the same verified address: linked to that user
  providerUser({ email, email_verified: true });
  const gh = await implicitSignIn();
  assert.equal(gh.claims.sub, uid, `linked to the email user ${uid}: ${show(gh.claims)}`);
  const linked = await adoptFragment(gh.client, gh.fragment);
  assert.equal(linked.id, uid);
  assert.equal(linked.email, email);
  assert.equal(linked.identities?.length, 2, `two identities: ${show(linked.identities)}`);
  assert.deepEqual(linked.identities.map((i) => i.provider).sort(), ['email', 'github'], show(linked.identities));
  assert.deepEqual([...(linked.app_metadata?.providers ?? [])].sort(), ['email', 'github'], show(linked.app_metadata));

  // the password still signs in, to the same user, who now has both identities
  const pw = ok(await ctx.anon().auth.signInWithPassword({ email, password }), 'signInWithPassword after linking');
  assert.equal(pw.user.id, uid);
  assert.deepEqual(pw.user.identities.map((i) => i.provider).sort(), ['email', 'github'], show(pw.user.identities));
});

// ---------------------------------------------------------------------------------------------
// disabled provider

t('a disabled provider: signInWithOAuth still builds a URL, fetching it answers 400 validation_failed', async () => {
  const before = fake.requests.length;
  for (const [p, provider] of [
    ['off', 'github'], // configured, enabled: false
    ['main', 'google'], // never configured
  ]) {
    const c = ctx.anon(p);
    const { data, error } = await c.auth.signInWithOAuth({
      provider,
      options: { redirectTo: CB, skipBrowserRedirect: true },
    });
    assert.equal(error, null, `${p}/${provider}: signInWithOAuth builds the URL client-side: ${show(error)}`);
    const u = new URL(data?.url);
    assert.equal(`${u.origin}${u.pathname}`, `${ctx.p[p].url}/auth/v1/authorize`, `${p}/${provider}: ${data.url}`);
    assert.equal(u.searchParams.get('provider'), provider);

    const r = await hop(data.url);
    assert.equal(r.status, 400, `${p}/${provider}: GET /authorize: ${r.status} ${r.text}`);
    assert.equal(r.location, null, `${p}/${provider}: no redirect: ${r.location}`);
    assert.equal(r.headers.get('x-sb-error-code'), 'validation_failed', `${p}/${provider}: x-sb-error-code`);
    assert.match(String(r.headers.get('content-type')), /application\/json/, `${p}/${provider}: content-type`);
    assert.equal(r.json?.error_code, 'validation_failed', `${p}/${provider}: body ${r.text}`);
    assert.equal(r.json?.code, 400, `${p}/${provider}: body ${r.text}`);
    assert.equal(typeof r.json?.msg, 'string', `${p}/${provider}: body ${r.text}`);
  }
  assert.equal(fake.requests.length, before, 'nothing reached the provider');
});
