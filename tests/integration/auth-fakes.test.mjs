// The test doubles of the auth suite, on their own (no alpaca-server): the SMTP sink
// (fakes/smtp-sink.mjs) spoken to over a raw socket — EHLO/HELO, AUTH PLAIN/LOGIN, pipelined
// envelopes, dot-stuffing, quoted-printable/base64/multipart bodies, RFC 2047 subjects, RSET — and
// the OAuth2 provider (fakes/oauth-provider.mjs) — authorize → code → token (body or Basic
// credentials, single use, redirect_uri bound) → /user, /user/emails, /userinfo.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import { extractLink, extractLinks, extractOtp, startSmtpSink } from './fakes/smtp-sink.mjs';
import { startOAuthProvider } from './fakes/oauth-provider.mjs';
import { makeTestCerts } from './fakes/tls-certs.mjs';

/** A scripted SMTP client: send(line) resolves with the full (possibly multi-line) reply. */
function smtpClient(port, sock = net.connect(port, '127.0.0.1'), { greeting = true } = {}) {
  let buf = '';
  const queue = [];
  const pump = () => {
    for (;;) {
      // a reply is complete at a line "ddd " (multi-line replies use "ddd-")
      const m = /^(?:\d{3}-[^\n]*\n)*\d{3}(?: [^\n]*)?\r?\n/.exec(buf);
      if (!m || !queue.length) return;
      buf = buf.slice(m[0].length);
      queue.shift()(m[0]);
    }
  };
  sock.setEncoding('utf8');
  const onData = (d) => {
    buf += d;
    pump();
  };
  sock.on('data', onData);
  const next = () => new Promise((r) => {
    queue.push(r);
    pump();
  });
  return {
    greeting: greeting ? next() : null,
    send(line) {
      sock.write(line + '\r\n');
      return next();
    },
    raw(text) {
      sock.write(text);
    },
    next,
    close: () => sock.destroy(),
    /** After a 220 to STARTTLS: the TLS handshake over this connection → a client on the TLSSocket. */
    async upgrade(tlsOpts) {
      sock.removeListener('data', onData);
      const secure = tls.connect({ socket: sock, ...tlsOpts });
      await new Promise((resolve, reject) => {
        secure.once('secureConnect', resolve);
        secure.once('error', reject);
      });
      const c = smtpClient(null, secure, { greeting: false }); // no new greeting after STARTTLS
      c.socket = secure;
      return c;
    },
  };
}

/** MAIL/RCPT/DATA of one message on a client that has said EHLO. */
async function deliverOn(c, { from, to, data }) {
  assert.match(await c.send(`MAIL FROM:<${from}>`), /^250 /);
  for (const t of [].concat(to)) assert.match(await c.send(`RCPT TO:<${t}>`), /^250 /);
  assert.match(await c.send('DATA'), /^354 /);
  c.raw(data.split('\r\n').map((l) => (l.startsWith('.') ? '.' + l : l)).join('\r\n') + '\r\n.\r\n');
  assert.match(await c.next(), /^250 /);
}

async function deliver(port, { from, to, data, helo = 'EHLO client.test' }) {
  const c = smtpClient(port);
  assert.match(await c.greeting, /^220 /);
  assert.match(await c.send(helo), /^250[ -]/);
  assert.match(await c.send(`MAIL FROM:<${from}>`), /^250 /);
  for (const t of [].concat(to)) assert.match(await c.send(`RCPT TO:<${t}>`), /^250 /);
  assert.match(await c.send('DATA'), /^354 /);
  const stuffed = data.split('\r\n').map((l) => (l.startsWith('.') ? '.' + l : l)).join('\r\n');
  c.raw(stuffed + '\r\n.\r\n');
  assert.match(await c.next(), /^250 /);
  assert.match(await c.send('QUIT'), /^221 /);
  c.close();
}

describe('smtp sink', () => {
  let sink;
  before(async () => {
    sink = await startSmtpSink();
  });
  after(async () => sink?.close());

  test('EHLO advertises AUTH PLAIN LOGIN in a multi-line 250; HELO, NOOP, RSET, unknown verbs', async () => {
    const c = smtpClient(sink.port);
    assert.match(await c.greeting, /^220 /);
    const ehlo = await c.send('EHLO me.test');
    assert.match(ehlo, /^250-/);
    assert.match(ehlo, /^250[- ]AUTH PLAIN LOGIN\r?$/m);
    assert.match(ehlo.trim().split('\n').pop(), /^250 /);
    assert.match(await c.send('HELO me.test'), /^250 /);
    assert.match(await c.send('NOOP'), /^250 /);
    assert.match(await c.send('RSET'), /^250 /);
    assert.match(await c.send('BOGUS'), /^502 /);
    assert.match(await c.send('RCPT TO:<x@y>'), /^503 /);
    assert.match(await c.send('QUIT'), /^221 /);
    c.close();
  });

  test('AUTH PLAIN (initial response and continuation) and AUTH LOGIN record user and password', async () => {
    const c = smtpClient(sink.port);
    await c.greeting;
    await c.send('EHLO me.test');
    const n = sink.auth.length;
    assert.match(await c.send(`AUTH PLAIN ${Buffer.from('\0alice\0s3cret').toString('base64')}`), /^235 /);
    assert.match(await c.send('AUTH PLAIN'), /^334/);
    assert.match(await c.send(Buffer.from('\0bob\0pw2').toString('base64')), /^235 /);
    assert.match(await c.send('AUTH LOGIN'), /^334 VXNlcm5hbWU6/);
    assert.match(await c.send(Buffer.from('carol').toString('base64')), /^334 UGFzc3dvcmQ6/);
    assert.match(await c.send(Buffer.from('pw3').toString('base64')), /^235 /);
    assert.match(await c.send(`AUTH LOGIN ${Buffer.from('dave').toString('base64')}`), /^334 /);
    assert.match(await c.send(Buffer.from('pw4').toString('base64')), /^235 /);
    assert.deepEqual(
      sink.auth.slice(n).map((a) => [a.mechanism, a.user, a.pass]),
      [['PLAIN', 'alice', 's3cret'], ['PLAIN', 'bob', 'pw2'], ['LOGIN', 'carol', 'pw3'], ['LOGIN', 'dave', 'pw4']],
    );
    assert.ok(!sink.commands.some((l) => l.includes(Buffer.from('\0alice\0s3cret').toString('base64'))), 'AUTH secrets are not kept in commands');
    c.close();
  });

  test('a plain message: envelope, headers, dot-unstuffing, the end marker only at CRLF.CRLF', async () => {
    const since = sink.mark();
    const data = [
      'From: Alpaca <noreply@alpaca.test>',
      'To: a@example.com',
      'Subject: Hello',
      '',
      'line one',
      '.leading dot',
      '..two dots',
      'a line with . in it',
      '.',
      'after a lone dot line',
    ].join('\r\n');
    // a line of just "." inside the content is stuffed by the client as ".." and must come back as "."
    await deliver(sink.port, { from: 'noreply@alpaca.test', to: ['a@example.com', 'b@example.com'], data });
    const m = await sink.waitFor('b@example.com', 2000, { since });
    assert.equal(m.from, 'noreply@alpaca.test');
    assert.deepEqual(m.to, ['a@example.com', 'b@example.com']);
    assert.equal(m.subject, 'Hello');
    assert.equal(m.headers.from, 'Alpaca <noreply@alpaca.test>');
    assert.equal(m.text, 'line one\r\n.leading dot\r\n..two dots\r\na line with . in it\r\n.\r\nafter a lone dot line\r\n');
    assert.equal(sink.messagesTo('A@example.com').length >= 1, true);
  });

  test('quoted-printable and base64 bodies, RFC 2047 subject, multipart/alternative (text preferred, html kept)', async () => {
    const since = sink.mark();
    const link = 'http://127.0.0.1:8000/p/abc/auth/v1/verify?token=deadbeef0123&type=signup&redirect_to=http%3A%2F%2Flocalhost%3A3000';
    const qp = `Follow this link: ${link}`.replace(/=/g, '=3D');
    const qpWrapped = qp.slice(0, 60) + '=\r\n' + qp.slice(60);
    const html = `<p><a href="${link.replace(/&/g, '&amp;')}">Confirm</a></p><p>Code: 123456</p>`;
    const data = [
      'From: noreply@alpaca.test',
      'To: qp@example.com',
      `Subject: =?UTF-8?B?${Buffer.from('Confirm your signup ✓').toString('base64')}?=`,
      'MIME-Version: 1.0',
      'Content-Type: multipart/alternative;',
      ' boundary="b1"',
      '',
      'preamble',
      '--b1',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      qpWrapped,
      'Caf=C3=A9 code 654321',
      '--b1',
      'Content-Type: text/html; charset=utf-8',
      'Content-Transfer-Encoding: base64',
      '',
      ...Buffer.from(html).toString('base64').match(/.{1,76}/g),
      '--b1--',
      '',
    ].join('\r\n');
    await deliver(sink.port, { from: 'noreply@alpaca.test', to: 'qp@example.com', data });
    const m = await sink.waitFor((x) => x.to.includes('qp@example.com'), 2000, { since });
    assert.equal(m.subject, 'Confirm your signup ✓');
    assert.match(m.text, /Café code 654321/);
    assert.equal(m.html, html);
    assert.equal(extractLink(m.text), link);
    assert.equal(extractLink(m.html), link, '&amp; in an href is decoded');
    assert.equal(extractOtp(m.text), '654321', 'digits inside the link are not a code');
    assert.equal(extractOtp(m.html), '123456');
    assert.deepEqual(m.parts.map((p) => p.contentType), ['text/plain', 'text/html']);
  });

  test('a html-only base64 message: text falls back to the html; extract helpers', async () => {
    const since = sink.mark();
    const html = '<a href="https://x.example/cb?a=1&amp;b=2">go</a> 111222';
    const data = ['To: h@example.com', 'Subject: =?utf-8?Q?Magic_Link?=', 'Content-Type: text/html; charset=UTF-8', 'Content-Transfer-Encoding: base64', '', Buffer.from(html).toString('base64')].join('\r\n');
    await deliver(sink.port, { from: 'x@alpaca.test', to: 'h@example.com', data, helo: 'HELO old.client' });
    const m = await sink.waitFor('h@example.com', 2000, { since });
    assert.equal(m.subject, 'Magic Link');
    assert.equal(m.text, html);
    assert.equal(extractLink(m.text), 'https://x.example/cb?a=1&b=2');
    assert.equal(extractOtp('token 1234567 and 12345 and abc123456 and (987654).'), '987654');
    assert.equal(extractOtp('no code here'), null);
    assert.equal(extractLink('none'), null);
    assert.deepEqual(extractLinks('a http://a.example/x, and https://b.example/y.'), ['http://a.example/x', 'https://b.example/y']);
  });

  test('RSET drops a half-built envelope; two messages on one connection', async () => {
    const since = sink.mark();
    const c = smtpClient(sink.port);
    await c.greeting;
    await c.send('EHLO me.test');
    await c.send('MAIL FROM:<drop@alpaca.test>');
    await c.send('RCPT TO:<dropped@example.com>');
    assert.match(await c.send('RSET'), /^250 /);
    for (const to of ['one@example.com', 'two@example.com']) {
      assert.match(await c.send('MAIL FROM:<k@alpaca.test> SIZE=100'), /^250 /);
      assert.match(await c.send(`RCPT TO:<${to}>`), /^250 /);
      assert.match(await c.send('DATA'), /^354 /);
      c.raw(`Subject: ${to}\r\n\r\nbody\r\n.\r\n`);
      assert.match(await c.next(), /^250 /);
    }
    await c.send('QUIT');
    c.close();
    const got = sink.messages.slice(since);
    assert.deepEqual(got.map((m) => m.to), [['one@example.com'], ['two@example.com']]);
    assert.equal(got[0].from, 'k@alpaca.test');
  });

  test('waitFor rejects after its timeout naming what arrived; expectNone', async () => {
    await assert.rejects(sink.waitFor('nobody@example.com', 100), /no message to nobody@example.com after 100 ms/);
    assert.equal(await sink.expectNone('nobody@example.com', 100), true);
  });
});

/** GET/POST without following redirects. */
function req(url, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const r = http.request(url, { method, headers: { ...headers, ...(body ? { 'content-length': Buffer.byteLength(body) } : {}) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => {
        let json;
        try {
          json = JSON.parse(text);
        } catch {}
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
    });
    r.on('error', reject);
    if (body) r.write(body);
    r.end();
  });
}

describe('smtp sink over TLS (starttls, implicit)', () => {
  let certs;
  before(() => {
    certs = makeTestCerts();
  });
  after(() => certs?.cleanup());

  test('the default sink refuses STARTTLS (454) and does not offer it', async () => {
    const sink = await startSmtpSink();
    try {
      const c = smtpClient(sink.port);
      await c.greeting;
      assert.doesNotMatch(await c.send('EHLO me.test'), /STARTTLS/);
      assert.match(await c.send('STARTTLS'), /^454 /);
      c.close();
    } finally {
      await sink.close();
    }
  });

  test('starttls: offered in EHLO, upgrade, new EHLO required, AUTH and the message recorded as secure', async () => {
    const sink = await startSmtpSink({ tls: 'starttls', key: certs.server.key, cert: certs.server.cert });
    try {
      const c = smtpClient(sink.port);
      await c.greeting;
      assert.match(await c.send('EHLO me.test'), /^250[- ]STARTTLS\r?$/m);
      assert.match(await c.send('STARTTLS'), /^220 /);
      const s = await c.upgrade({ ca: certs.ca.cert, servername: 'localhost' });
      const protocol = s.socket.getProtocol();
      assert.match(protocol, /^TLSv1\.[23]$/);
      assert.match(await s.send('MAIL FROM:<a@alpaca.test>'), /^503 /, 'MAIL before the new EHLO');
      const ehlo = await s.send('EHLO me.test');
      assert.doesNotMatch(ehlo, /STARTTLS/, 'STARTTLS is not offered again');
      assert.match(await s.send('STARTTLS'), /^503 /);
      assert.match(await s.send(`AUTH PLAIN ${Buffer.from('\0u\0p').toString('base64')}`), /^235 /);
      assert.match(await s.send('MAIL FROM:<a@alpaca.test>'), /^250 /);
      assert.match(await s.send('RCPT TO:<tls@example.com>'), /^250 /);
      assert.match(await s.send('DATA'), /^354 /);
      s.raw('Subject: over TLS\r\n\r\nhello\r\n.\r\n');
      assert.match(await s.next(), /^250 /);
      assert.match(await s.send('QUIT'), /^221 /);
      s.close();
      const m = await sink.waitFor('tls@example.com', 2000);
      assert.equal(m.secure, true);
      assert.equal(m.tlsProtocol, protocol);
      assert.equal(m.subject, 'over TLS');
      assert.deepEqual(
        m.session.transcript.map((x) => `${x.verb}${x.secure ? '+' : ''}`),
        ['EHLO', 'STARTTLS', 'MAIL+', 'EHLO+', 'STARTTLS+', 'AUTH PLAIN+', 'MAIL+', 'RCPT+', 'DATA+'],
      );
      assert.deepEqual(sink.auth.map((a) => [a.user, a.secure]), [['u', true]]);
      assert.deepEqual(sink.tlsErrors, []);
    } finally {
      await sink.close();
    }
  });

  test('starttls: plaintext pipelined after STARTTLS is discarded, not run inside TLS', async () => {
    const sink = await startSmtpSink({ tls: 'starttls', key: certs.server.key, cert: certs.server.cert });
    try {
      const c = smtpClient(sink.port);
      await c.greeting;
      await c.send('EHLO me.test');
      c.raw('STARTTLS\r\nMAIL FROM:<evil@x.test>\r\n');
      assert.match(await c.next(), /^220 /);
      const s = await c.upgrade({ ca: certs.ca.cert, servername: 'localhost' });
      assert.match(await s.send('EHLO me.test'), /^250/);
      assert.match(await s.send('RCPT TO:<x@example.com>'), /^503 /, 'the injected MAIL did not count');
      s.close();
      assert.deepEqual(sink.injected, [{ session: 1, text: 'MAIL FROM:<evil@x.test>\r\n' }]);
    } finally {
      await sink.close();
    }
  });

  test('starttls: a client refusing the certificate shows up in tlsErrors; no message', async () => {
    const sink = await startSmtpSink({ tls: 'starttls', key: certs.selfSigned.key, cert: certs.selfSigned.cert });
    try {
      const c = smtpClient(sink.port);
      await c.greeting;
      await c.send('EHLO me.test');
      assert.match(await c.send('STARTTLS'), /^220 /);
      await assert.rejects(c.upgrade({ ca: certs.ca.cert, servername: 'localhost' }), /self[- ]signed|verify/i);
      for (let i = 0; i < 40 && !sink.tlsErrors.length; i++) await new Promise((r) => setTimeout(r, 25));
      assert.equal(sink.tlsErrors.length, 1, JSON.stringify(sink.tlsErrors));
      assert.equal(sink.tlsErrors[0].stage, 'starttls');
      assert.equal(sink.messages.length, 0);
    } finally {
      await sink.close();
    }
  });

  test('implicit: TLS from the first byte; messages secure; an untrusting client is a tlsError', async () => {
    const sink = await startSmtpSink({ tls: 'implicit', key: certs.server.key, cert: certs.server.cert });
    try {
      const sock = tls.connect({ port: sink.port, host: '127.0.0.1', ca: certs.ca.cert });
      const c = smtpClient(null, sock);
      assert.match(await c.greeting, /^220 /);
      assert.doesNotMatch(await c.send('EHLO me.test'), /STARTTLS/);
      await deliverOn(c, { from: 'a@alpaca.test', to: 'smtps@example.com', data: 'Subject: smtps\r\n\r\nhi' });
      const m = await sink.waitFor('smtps@example.com', 2000);
      assert.equal(m.secure, true);
      assert.match(String(m.tlsProtocol), /^TLSv1\.[23]$/);
      assert.ok(m.session.transcript.every((x) => x.secure));
      c.close();
      const bad = tls.connect({ port: sink.port, host: '127.0.0.1' }); // no CA: refuses the certificate
      await new Promise((r) => bad.once('error', r));
      for (let i = 0; i < 40 && !sink.tlsErrors.length; i++) await new Promise((r) => setTimeout(r, 25));
      assert.equal(sink.tlsErrors.length, 1, JSON.stringify(sink.tlsErrors));
      assert.equal(sink.tlsErrors[0].stage, 'implicit');
      assert.equal(sink.messages.length, 1);
    } finally {
      await sink.close();
    }
  });

  test('a plain-mode message is not secure; tls without key/cert is refused', async () => {
    const sink = await startSmtpSink();
    try {
      await deliver(sink.port, { from: 'a@alpaca.test', to: 'plain@example.com', data: 'Subject: p\r\n\r\nx' });
      const m = await sink.waitFor('plain@example.com', 2000);
      assert.equal(m.secure, false);
      assert.equal(m.tlsProtocol, null);
    } finally {
      await sink.close();
    }
    assert.throws(() => startSmtpSink({ tls: 'starttls' }), /key and cert/);
    assert.throws(() => startSmtpSink({ tls: 'ssl', key: 'k', cert: 'c' }), /tls must be/);
  });
});

describe('oauth provider', () => {
  let p;
  const redirectUri = 'http://127.0.0.1:9/p/ref/auth/v1/callback';
  before(async () => {
    p = await startOAuthProvider({ clientId: 'cid', clientSecret: 'csecret' });
  });
  after(async () => p?.close());

  async function authorize(state = 'st-1', extra = '') {
    const r = await req(`${p.url}/authorize?client_id=cid&redirect_uri=${encodeURIComponent(redirectUri)}&state=${state}&scope=user%3Aemail&response_type=code${extra}`);
    assert.equal(r.status, 302, r.text);
    const loc = new URL(r.headers.location);
    assert.equal(`${loc.origin}${loc.pathname}`, redirectUri);
    assert.equal(loc.searchParams.get('state'), state);
    return loc.searchParams.get('code');
  }
  const tokenForm = (fields) => new URLSearchParams({ grant_type: 'authorization_code', redirect_uri: redirectUri, ...fields }).toString();

  test('authorize → code → token (form, secret in body) → /user, /user/emails, /userinfo', async () => {
    p.setUser({ id: 4242, email: 'octo@example.com', name: 'Octo Cat', email_verified: true });
    const code = await authorize();
    assert.ok(code && code.length >= 16);
    assert.equal(p.requestsTo('/authorize').at(-1).query.scope, 'user:email');
    const t = await req(`${p.url}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' }, body: tokenForm({ code, client_id: 'cid', client_secret: 'csecret' }) });
    assert.equal(t.status, 200, t.text);
    assert.equal(t.json.token_type, 'bearer');
    assert.equal(t.json.scope, 'user:email');
    const auth = { authorization: `Bearer ${t.json.access_token}` };
    const u = await req(`${p.url}/user`, { headers: auth });
    assert.deepEqual(u.json, { id: 4242, login: 'octocat', name: 'Octo Cat', email: 'octo@example.com', avatar_url: 'https://avatars.example.com/u/4242' });
    const e = await req(`${p.url}/user/emails`, { headers: { authorization: `token ${t.json.access_token}` } });
    assert.deepEqual(e.json.map(({ email, primary, verified }) => ({ email, primary, verified })), [{ email: 'octo@example.com', primary: true, verified: true }]);
    const oi = await req(`${p.url}/userinfo`, { headers: auth });
    assert.deepEqual(oi.json, { sub: '4242', email: 'octo@example.com', email_verified: true, name: 'Octo Cat', picture: 'https://avatars.example.com/u/4242' });
    assert.equal((await req(`${p.url}/user`)).status, 401);
    assert.equal((await req(`${p.url}/user`, { headers: { authorization: 'Bearer nope' } })).status, 401);
  });

  test('token: HTTP Basic and JSON bodies; a code is single use and bound to its redirect_uri; bad client → 401', async () => {
    p.setUser({ id: 7, email: 'seven@example.com', name: 'Seven', email_verified: false });
    const basic = { authorization: `Basic ${Buffer.from('cid:csecret').toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' };
    const c1 = await authorize('s2');
    const wrongUri = await req(`${p.url}/token`, { method: 'POST', headers: basic, body: new URLSearchParams({ grant_type: 'authorization_code', code: c1, redirect_uri: 'http://evil.example/cb' }).toString() });
    assert.equal(wrongUri.status, 400);
    assert.equal(wrongUri.json.error, 'invalid_grant');
    const ok = await req(`${p.url}/token`, { method: 'POST', headers: basic, body: tokenForm({ code: c1 }) });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(p.requestsTo('/token').at(-1).clientAuth.basic, true);
    const again = await req(`${p.url}/token`, { method: 'POST', headers: basic, body: tokenForm({ code: c1 }) });
    assert.equal(again.status, 400);
    assert.equal(again.json.error, 'invalid_grant');
    const c2 = await authorize('s3');
    const badSecret = await req(`${p.url}/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ grant_type: 'authorization_code', code: c2, redirect_uri: redirectUri, client_id: 'cid', client_secret: 'nope' }) });
    assert.equal(badSecret.status, 401);
    const json = await req(`${p.url}/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ grant_type: 'authorization_code', code: c2, redirect_uri: redirectUri, client_id: 'cid', client_secret: 'csecret' }) });
    assert.equal(json.status, 200, json.text);
    const e = await req(`${p.url}/user/emails`, { headers: { authorization: `Bearer ${json.json.access_token}` } });
    assert.equal(e.json[0].verified, false);
    const formAnswer = await req(`${p.url}/token`, { method: 'POST', headers: { ...basic, accept: 'application/x-www-form-urlencoded' }, body: tokenForm({ code: await authorize('s4') }) });
    assert.match(formAnswer.headers['content-type'], /x-www-form-urlencoded/);
    assert.ok(new URLSearchParams(formAnswer.text).get('access_token'));
  });

  test('authorize refuses an unknown client_id and a missing redirect_uri', async () => {
    assert.equal((await req(`${p.url}/authorize?client_id=other&redirect_uri=${encodeURIComponent(redirectUri)}&state=x`)).status, 400);
    assert.equal((await req(`${p.url}/authorize?client_id=cid&state=x`)).status, 400);
  });
});
