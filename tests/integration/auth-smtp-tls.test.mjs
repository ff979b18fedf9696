// The auth plugin's SMTP client over TLS, against the SMTP sink with a throwaway CA
// (fakes/tls-certs.mjs): auth.smtp_tls = starttls (upgrade, EHLO again, AUTH only inside TLS) and
// tls (SMTPS) with auth.smtp_ca_file trusting the CA; certificates that must be refused (not
// trusted without the CA file, self-signed, not naming auth.smtp_host) and a server that does not
// offer STARTTLS: the request still answers 200 {}, nothing is sent (no AUTH either), the outbox
// row keeps the mail with the reason, the log has a warning without secrets. A sent mail's link
// and code are blanked in auth.alpaca_outbox.
// One alpaca-server (database + auth plugins) per SMTP configuration, each with its own data dir.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import {
  authPlugin,
  databasePlugin,
  disposeServer,
  expectStatus,
  fmt,
  randomHex,
  sleep,
  startServer,
} from './harness.mjs';
import { extractLink, extractOtp, startSmtpSink } from './fakes/smtp-sink.mjs';
import { makeTestCerts } from './fakes/tls-certs.mjs';
import { authEnv, createProject, itFor, linkParam, lit, passwordsUsed } from './auth-helpers.mjs';

const SMTP_USER = 'tls-mailer';
const SMTP_PASSWORD = `smtp-tls-pw-${randomHex(8)}`;

let certs;
before(() => {
  for (const [what, p, v] of [
    ['database', databasePlugin, 'ALPACA_DATABASE_PLUGIN'],
    ['auth', authPlugin, 'ALPACA_AUTH_PLUGIN'],
  ])
    assert.ok(fs.existsSync(p), `${what} plugin not found at ${p} (build it, or set ${v})`);
  certs = makeTestCerts();
});
after(() => certs?.cleanup());

/** Another loopback address than the certificates' 127.0.0.1: test traffic stays on loopback,
 * and the server checks names on loopback hosts too (its TLS context is VERIFY_STRICT). */
const outsideIp = '127.0.0.2';

/**
 * A sink made by sinkOpts() (called once the certificates exist) on host (default 127.0.0.1) and
 * a server whose mail goes to it (auth.smtp_host = that address) with the given auth.* env; one
 * project. Returns a handle filled in by before().
 */
function setup(name, { sinkOpts = () => ({}), env = () => ({}), host = '127.0.0.1' }) {
  const h = { sink: null, server: null, project: null };
  before(async () => {
    h.sink = await startSmtpSink({ host, ...sinkOpts() });
    try {
      h.server = await startServer({
        plugins: `${databasePlugin},${authPlugin}`,
        env: authEnv(h.sink, { ALPACA_AUTH_SMTP_HOST: host, ALPACA_AUTH_SMTP_TIMEOUT_MS: '5000', ...env() }),
      });
      h.project = await createProject(h.server, h.sink, name);
    } catch (e) {
      await h.sink.close();
      throw e;
    }
  });
  after(async () => {
    await disposeServer(h.server);
    await h.sink?.close();
  });
  h.it = itFor(() => h.server, test, 60000);
  return h;
}

const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** POST /recover for a fresh confirmed user; expects GoTrue's 200 {}. Returns the user. */
async function recover(h) {
  const u = await h.project.createUser();
  const r = await h.project.auth('POST', '/recover', { body: { email: u.email } });
  expectStatus(r, 200);
  assert.deepEqual(r.json, {}, `recover answers {}: ${fmt(r)}`);
  return u;
}

/** The one outbox row of a recipient. */
function outboxRow(h, email) {
  const rows = h.project.rows(`select id, kind, recipient, subject, body, sent_at, error from auth.alpaca_outbox where recipient = ${lit(email)}`);
  assert.equal(rows.length, 1, `outbox rows for ${email}: ${JSON.stringify(rows)}`);
  return rows[0];
}

/** Checks a mail that came over TLS and its outbox row (sent, link and code blanked). */
function expectSecureDelivery(h, m, email) {
  assert.equal(m.secure, true, `the message came in clear (session ${JSON.stringify(m.session)})`);
  assert.match(String(m.tlsProtocol), /^TLSv1\.[23]$/, `TLS protocol: ${m.tlsProtocol}`);
  const link = extractLink(m.text);
  const otp = extractOtp(m.text);
  assert.ok(link && linkParam(link, 'token'), `a link in the mail: ${m.text}`);
  assert.match(String(otp), /^\d{6}$/, `a code in the mail: ${m.text}`);
  const row = outboxRow(h, email);
  assert.equal(row.kind, 'recovery');
  assert.ok(row.sent_at, `sent_at is set: ${JSON.stringify(row)}`);
  assert.equal(row.error, null, `no error: ${JSON.stringify(row)}`);
  assert.ok(!row.body.includes(link), `the link is still in the outbox body: ${row.body}`);
  assert.ok(!row.body.includes(linkParam(link, 'token')), `the link secret is still in the outbox body: ${row.body}`);
  assert.ok(!row.body.includes(otp), `the code is still in the outbox body: ${row.body}`);
  assert.match(row.body, /\[link sent\]/, `body: ${row.body}`);
  assert.match(row.body, /\[code sent\]/, `body: ${row.body}`);
}

/**
 * Checks a mail that could not be sent: nothing reached the sink (no MAIL, no AUTH), the outbox
 * row is unsent with an error matching errorRe and still holds the link, and the log has a
 * warning about it (matching errorRe) without the link secret, the code or the SMTP password.
 */
async function expectUndelivered(h, u, errorRe, { logged = true, t } = {}) {
  assert.ok(await h.sink.expectNone(u.email, 500), `a message reached the sink: ${JSON.stringify(h.sink.messages.map((m) => m.to))}`);
  assert.equal(h.sink.messages.length, 0);
  assert.ok(!h.sink.commands.some((c) => /^(MAIL|RCPT|DATA)\b/i.test(c)), `envelope commands reached the sink: ${JSON.stringify(h.sink.commands)}`);
  assert.deepEqual(h.sink.auth, [], 'the SMTP credentials were sent');
  const row = outboxRow(h, u.email);
  assert.equal(row.sent_at, null, `sent_at: ${JSON.stringify(row)}`);
  assert.ok(row.error, `no error recorded: ${JSON.stringify(row)}`);
  assert.match(row.error, errorRe, `outbox error: ${row.error}`);
  t?.diagnostic(`outbox error: ${row.error}`);
  const link = extractLink(row.body);
  const otp = extractOtp(row.body);
  assert.ok(link && linkParam(link, 'token'), `an unsent mail keeps its link in the outbox: ${row.body}`);
  assert.match(String(otp), /^\d{6}$/, `an unsent mail keeps its code in the outbox: ${row.body}`);
  if (logged) await expectSendWarning(h, u, errorRe);
  else await sleep(300); // let the log lines of the request arrive
  const log = h.server.output;
  const leaked = [
    ['link secret', linkParam(link, 'token')],
    ['code', new RegExp(`(?<!\\d)${otp}(?!\\d)`)], // not a run of digits that happens to contain it
    ['SMTP password', SMTP_PASSWORD],
    ...[...passwordsUsed].map((p) => ['user password', p]),
  ].filter(([, s]) => s && (s instanceof RegExp ? s.test(log) : log.includes(s)));
  assert.deepEqual(leaked.map(([what]) => what), [], 'secrets in the server log');
  return row;
}

/** The log's warning about a recovery email that could not be sent; returns the line. */
async function expectSendWarning(h, u, errorRe) {
  const re = new RegExp(`^.*auth: cannot send the recovery email to ${escapeRe(u.email)} through ${escapeRe(h.sink.host)}:${h.sink.port}: .*$`, 'm');
  let line;
  for (let i = 0; i < 40 && !(line = re.exec(h.server.output)?.[0]); i++) await sleep(25);
  assert.ok(line, `no warning about the failed send in the log`);
  assert.match(line, /warn/i, `the line is a warning: ${line}`);
  assert.match(line, errorRe, `the warning says why: ${line}`);
  return line;
}

const CERT_ERROR = /certificat/i;

describe('starttls with the CA file, no SMTP credentials', () => {
  const h = setup('starttls', {
    sinkOpts: () => ({ tls: 'starttls', key: certs.server.key, cert: certs.server.cert }),
    env: () => ({ ALPACA_AUTH_SMTP_TLS: 'starttls', ALPACA_AUTH_SMTP_CA_FILE: certs.ca.certFile }),
  });

  h.it('a recovery email arrives over TLS (EHLO again after STARTTLS); the outbox row is sent and blanked', async () => {
    const u = await recover(h);
    const m = await h.sink.waitFor(u.email, 5000).catch((e) => {
      const row = h.project.rows(`select sent_at, error from auth.alpaca_outbox where recipient = ${lit(u.email)}`);
      throw new Error(`${e.message}; sink commands ${JSON.stringify(h.sink.commands)}; tls errors ${JSON.stringify(h.sink.tlsErrors)}; outbox ${JSON.stringify(row)}`);
    });
    expectSecureDelivery(h, m, u.email);
    const verbs = m.session.transcript.map((c) => c.verb);
    const tlsAt = verbs.indexOf('STARTTLS');
    assert.ok(tlsAt >= 0, `no STARTTLS: ${verbs}`);
    assert.equal(verbs[tlsAt + 1], 'EHLO', `the client must EHLO again after STARTTLS: ${verbs}`);
    assert.equal(m.session.auth, null);
  });
});

describe('starttls with the CA file and SMTP credentials', () => {
  const h = setup('starttls-auth', {
    sinkOpts: () => ({ tls: 'starttls', key: certs.server.key, cert: certs.server.cert }),
    env: () => ({
      ALPACA_AUTH_SMTP_TLS: 'starttls',
      ALPACA_AUTH_SMTP_CA_FILE: certs.ca.certFile,
      ALPACA_AUTH_SMTP_USER: SMTP_USER,
      ALPACA_AUTH_SMTP_PASSWORD: SMTP_PASSWORD,
    }),
  });

  h.it('the recovery email arrives over TLS; AUTH happens only after STARTTLS, inside TLS', async () => {
    const u = await recover(h);
    const m = await h.sink.waitFor(u.email, 5000);
    expectSecureDelivery(h, m, u.email);
    const t = m.session.transcript;
    const verbs = t.map((c) => c.verb);
    const tlsAt = verbs.indexOf('STARTTLS');
    const authAt = verbs.findIndex((v) => v.startsWith('AUTH'));
    assert.ok(tlsAt >= 0, `no STARTTLS: ${verbs}`);
    assert.ok(authAt > tlsAt, `AUTH before STARTTLS: ${verbs}`);
    assert.ok(t.slice(0, tlsAt + 1).every((c) => !c.secure && !c.verb.startsWith('AUTH')), `plaintext part: ${JSON.stringify(t)}`);
    assert.ok(t.slice(tlsAt + 1).every((c) => c.secure), `after STARTTLS: ${JSON.stringify(t)}`);
    assert.equal(verbs[tlsAt + 1], 'EHLO', `EHLO again after STARTTLS: ${verbs}`);
    assert.ok(m.session.auth, 'the message was sent after AUTH');
    assert.equal(m.session.auth.user, SMTP_USER);
    assert.equal(m.session.auth.pass, SMTP_PASSWORD);
    assert.ok(h.sink.auth.length >= 1 && h.sink.auth.every((a) => a.secure), `every AUTH inside TLS: ${JSON.stringify(h.sink.auth.map((a) => ({ ...a, pass: '***' })))}`);
    assert.deepEqual(h.sink.injected, [], 'nothing was pipelined after STARTTLS');
    assert.ok(!h.server.output.includes(SMTP_PASSWORD), 'the SMTP password is in the log');
  });

  h.it('a second email on a new connection is also sent over TLS (the TLS context is reused)', async () => {
    const u = await recover(h);
    const m = await h.sink.waitFor(u.email, 5000);
    expectSecureDelivery(h, m, u.email);
    assert.ok(m.session.auth?.secure, 'AUTH inside TLS');
  });
});

describe('implicit TLS (auth.smtp_tls=tls) with the CA file', () => {
  const h = setup('smtps', {
    sinkOpts: () => ({ tls: 'implicit', key: certs.server.key, cert: certs.server.cert }),
    env: () => ({
      ALPACA_AUTH_SMTP_TLS: 'tls',
      ALPACA_AUTH_SMTP_CA_FILE: certs.ca.certFile,
      ALPACA_AUTH_SMTP_USER: SMTP_USER,
      ALPACA_AUTH_SMTP_PASSWORD: SMTP_PASSWORD,
    }),
  });

  h.it('the recovery email arrives over TLS from the first byte, AUTH inside TLS; outbox blanked', async () => {
    const u = await recover(h);
    const m = await h.sink.waitFor(u.email, 5000);
    expectSecureDelivery(h, m, u.email);
    assert.ok(m.session.transcript.every((c) => c.secure), `every command inside TLS: ${JSON.stringify(m.session.transcript)}`);
    assert.ok(!m.session.transcript.some((c) => c.verb === 'STARTTLS'));
    assert.equal(m.session.auth?.user, SMTP_USER);
    assert.equal(m.session.auth?.secure, true);
    assert.deepEqual(h.sink.tlsErrors, []);
  });
});

describe('starttls, the sink certificate is signed by a CA the server was not given (no CA file)', () => {
  const h = setup('untrusted-ca', {
    sinkOpts: () => ({ tls: 'starttls', key: certs.server.key, cert: certs.server.cert }),
    env: () => ({
      ALPACA_AUTH_SMTP_TLS: 'starttls',
      ALPACA_AUTH_SMTP_USER: SMTP_USER,
      ALPACA_AUTH_SMTP_PASSWORD: SMTP_PASSWORD,
    }),
  });

  h.it('recover answers 200 {}; nothing is sent, no AUTH; outbox unsent with a certificate error; a warning in the log', async (t) => {
    const u = await recover(h);
    await expectUndelivered(h, u, CERT_ERROR, { t });
    assert.ok(h.sink.commands.includes('STARTTLS'), `the client asked for STARTTLS: ${JSON.stringify(h.sink.commands)}`);
    assert.ok(h.sink.tlsErrors.length >= 1, 'the TLS handshake did not fail on the sink side');
  });
});

describe('starttls, a self-signed certificate (CA file given, the certificate does not chain to it)', () => {
  const h = setup('self-signed', {
    sinkOpts: () => ({ tls: 'starttls', key: certs.selfSigned.key, cert: certs.selfSigned.cert }),
    env: () => ({
      ALPACA_AUTH_SMTP_TLS: 'starttls',
      ALPACA_AUTH_SMTP_CA_FILE: certs.ca.certFile,
      ALPACA_AUTH_SMTP_USER: SMTP_USER,
      ALPACA_AUTH_SMTP_PASSWORD: SMTP_PASSWORD,
    }),
  });

  h.it('refused: 200 {}, nothing sent, no AUTH, outbox error about the certificate, log warning', async (t) => {
    const u = await recover(h);
    await expectUndelivered(h, u, CERT_ERROR, { t });
    assert.ok(h.sink.tlsErrors.length >= 1, 'the TLS handshake did not fail on the sink side');
  });
});

describe('starttls to 127.0.0.1, a certificate from the trusted CA that does not name auth.smtp_host', () => {
  const h = setup('wrong-name', {
    sinkOpts: () => ({ tls: 'starttls', key: certs.wrongName.key, cert: certs.wrongName.cert }),
    env: () => ({
      ALPACA_AUTH_SMTP_TLS: 'starttls',
      ALPACA_AUTH_SMTP_CA_FILE: certs.ca.certFile,
      ALPACA_AUTH_SMTP_USER: SMTP_USER,
      ALPACA_AUTH_SMTP_PASSWORD: SMTP_PASSWORD,
    }),
  });

  h.it('refused: nothing sent, no AUTH, outbox unsent with a certificate error, log warning', async (t) => {
    // the context is VERIFY_STRICT, so Poco checks the name on loopback hosts too
    const u = await recover(h);
    await expectUndelivered(h, u, CERT_ERROR, { t });
  });
});

describe(`the certificate must name auth.smtp_host (${outsideIp}, not the 127.0.0.1 the usual certificate names)`, () => {
  const named = setup('named-ip', {
    host: outsideIp,
    sinkOpts: () => {
      const c = certs.issue('outside', { cn: outsideIp, san: `IP:${outsideIp}` });
      return { tls: 'starttls', key: c.key, cert: c.cert };
    },
    env: () => ({
      ALPACA_AUTH_SMTP_TLS: 'starttls',
      ALPACA_AUTH_SMTP_CA_FILE: certs.ca.certFile,
      ALPACA_AUTH_SMTP_USER: SMTP_USER,
      ALPACA_AUTH_SMTP_PASSWORD: SMTP_PASSWORD,
    }),
  });
  named.it('starttls: a certificate naming the address is accepted', async () => {
    const u = await recover(named);
    const m = await named.sink.waitFor(u.email, 5000);
    expectSecureDelivery(named, m, u.email);
    assert.equal(m.session.auth?.secure, true);
  });

  const other = setup('other-ip', {
    host: outsideIp,
    sinkOpts: () => ({ tls: 'starttls', key: certs.server.key, cert: certs.server.cert }), // names 127.0.0.1 and localhost
    env: () => ({
      ALPACA_AUTH_SMTP_TLS: 'starttls',
      ALPACA_AUTH_SMTP_CA_FILE: certs.ca.certFile,
      ALPACA_AUTH_SMTP_USER: SMTP_USER,
      ALPACA_AUTH_SMTP_PASSWORD: SMTP_PASSWORD,
    }),
  });
  other.it('starttls: a trusted certificate for other names is refused (nothing sent, no AUTH, outbox error, warning)', async (t) => {
    const u = await recover(other);
    await expectUndelivered(other, u, CERT_ERROR, { t });
  });

  const otherTls = setup('other-ip-smtps', {
    host: outsideIp,
    sinkOpts: () => ({ tls: 'implicit', key: certs.server.key, cert: certs.server.cert }),
    env: () => ({
      ALPACA_AUTH_SMTP_TLS: 'tls',
      ALPACA_AUTH_SMTP_CA_FILE: certs.ca.certFile,
      ALPACA_AUTH_SMTP_USER: SMTP_USER,
      ALPACA_AUTH_SMTP_PASSWORD: SMTP_PASSWORD,
    }),
  });
  otherTls.it('implicit TLS: a trusted certificate for other names is refused', async (t) => {
    const u = await recover(otherTls);
    await expectUndelivered(otherTls, u, CERT_ERROR, { t });
  });
});

describe('implicit TLS, a self-signed certificate', () => {
  const h = setup('smtps-self-signed', {
    sinkOpts: () => ({ tls: 'implicit', key: certs.selfSigned.key, cert: certs.selfSigned.cert }),
    env: () => ({
      ALPACA_AUTH_SMTP_TLS: 'tls',
      ALPACA_AUTH_SMTP_CA_FILE: certs.ca.certFile,
      ALPACA_AUTH_SMTP_USER: SMTP_USER,
      ALPACA_AUTH_SMTP_PASSWORD: SMTP_PASSWORD,
    }),
  });

  h.it('refused: 200 {}, nothing sent, outbox error about the certificate, log warning', async (t) => {
    const u = await recover(h);
    await expectUndelivered(h, u, CERT_ERROR, { t });
    assert.ok(h.sink.tlsErrors.length >= 1, 'the TLS handshake did not fail on the sink side');
  });
});

describe('starttls against a plain SMTP server that does not offer STARTTLS', () => {
  const h = setup('no-starttls', {
    sinkOpts: () => ({}),
    env: () => ({
      ALPACA_AUTH_SMTP_TLS: 'starttls',
      ALPACA_AUTH_SMTP_CA_FILE: certs.ca.certFile,
      ALPACA_AUTH_SMTP_USER: SMTP_USER,
      ALPACA_AUTH_SMTP_PASSWORD: SMTP_PASSWORD,
    }),
  });

  let user;
  h.it('no mail, no AUTH in clear; the outbox error says STARTTLS is not offered', async (t) => {
    user = await recover(h);
    const row = await expectUndelivered(h, user, /STARTTLS/, { logged: false, t });
    assert.match(row.error, /not offer STARTTLS/i, `outbox error: ${row.error}`);
    assert.ok(h.sink.commands.includes('STARTTLS'), `the client asked for STARTTLS: ${JSON.stringify(h.sink.commands)}`);
  });

  h.it('the failure is logged as a warning, like every other failed send', async (t) => {
    if (!user) return t.skip('the previous test did not run');
    await expectSendWarning(h, user, /STARTTLS/);
  });
});
