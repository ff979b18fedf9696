// A minimal SMTP server for tests: listens on 127.0.0.1 (port 0), accepts every message and keeps
// it decoded in memory. Plain SMTP by default (STARTTLS refused with 454): servers under test use
// ALPACA_AUTH_SMTP_TLS=none. With { tls: 'starttls', key, cert } it offers STARTTLS in EHLO and
// upgrades the connection (the client must EHLO again; plaintext pipelined after STARTTLS is
// discarded); with { tls: 'implicit', key, cert } it speaks TLS from the first byte (SMTPS).
//
//   const sink = await startSmtpSink();
//   ... ALPACA_AUTH_SMTP_HOST=127.0.0.1 ALPACA_AUTH_SMTP_PORT=sink.port ...
//   const m = await sink.waitFor('alice@example.com');   // or a predicate on a message
//   extractLink(m.text), extractOtp(m.text)
//   await sink.close();
//
// A message: { from, to: [...], data (raw, dot-unstuffed), headers {lowercase name: value},
// subject (RFC 2047 decoded), text (text/plain part decoded, else the HTML part), html (the
// text/html part, or null), parts [{contentType, body}], session {helo, auth, id, transcript},
// secure (true when it came over TLS), tlsProtocol ('TLSv1.3', ... or null), at (Date.now()) }.
// session.transcript lists the session's commands in order as { verb, secure } (STARTTLS, AUTH
// and EHLO included), so a test can check that AUTH came after the upgrade.
// sink.auth: every AUTH exchange as { mechanism, user, pass, secure, session }. sink.sessions
// counts connections, sink.commands records every command line (AUTH secrets replaced by "***"),
// sink.tlsErrors every failed TLS handshake as { session, stage: 'starttls' | 'implicit', message,
// code } (a client refusing the certificate shows up here), sink.injected plaintext that followed
// STARTTLS in the same packet (discarded, RFC 3207).
// Node 20 built-ins only.
import net from 'node:net';
import tls from 'node:tls';

const CRLF = '\r\n';

/** Decodes quoted-printable text to a Buffer (soft line breaks removed). */
export function decodeQuotedPrintable(s) {
  const clean = s.replace(/=\r?\n/g, '');
  const bytes = [];
  for (let i = 0; i < clean.length; i++) {
    const c = clean[i];
    if (c === '=' && /^[0-9A-Fa-f]{2}$/.test(clean.slice(i + 1, i + 3))) {
      bytes.push(parseInt(clean.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      // characters outside latin1 should not appear in QP, but keep them intact if they do
      for (const b of Buffer.from(c, 'utf8')) bytes.push(b);
    }
  }
  return Buffer.from(bytes);
}

function decodeBody(body, encoding, charset) {
  const enc = String(encoding || '7bit').trim().toLowerCase();
  let buf;
  if (enc === 'base64') buf = Buffer.from(body.replace(/\s+/g, ''), 'base64');
  else if (enc === 'quoted-printable') buf = decodeQuotedPrintable(body);
  else buf = Buffer.from(body, 'utf8');
  const cs = String(charset || 'utf-8').toLowerCase();
  if (cs === 'iso-8859-1' || cs === 'latin1' || cs === 'us-ascii') return buf.toString('latin1');
  return buf.toString('utf8');
}

/** RFC 2047 encoded words (=?charset?B|Q?...?=) in a header value. */
export function decodeMimeWords(v) {
  if (!v) return v;
  return v
    .replace(/(=\?[^?]+\?[BbQq]\?[^?]*\?=)\s+(?==\?)/g, '$1') // whitespace between encoded words is dropped
    .replace(/=\?([^?]+)\?([BbQq])\?([^?]*)\?=/g, (_, charset, kind, text) => {
      const buf =
        kind.toUpperCase() === 'B'
          ? Buffer.from(text, 'base64')
          : decodeQuotedPrintable(text.replace(/_/g, ' '));
      return /^(iso-8859-1|latin1)$/i.test(charset) ? buf.toString('latin1') : buf.toString('utf8');
    });
}

/** Splits a MIME entity into { headers: {name: value} (lowercase names, unfolded), body }. */
export function parseEntity(raw) {
  const norm = raw.replace(/\r?\n/g, '\r\n');
  let end = norm.indexOf('\r\n\r\n');
  let head, body;
  if (end < 0) {
    // no blank line: all headers if it looks like headers, else all body
    if (/^[\w-]+:/.test(norm)) [head, body] = [norm, ''];
    else [head, body] = ['', norm];
  } else {
    head = norm.slice(0, end);
    body = norm.slice(end + 4);
  }
  const headers = {};
  const lines = head.split('\r\n');
  let cur = null;
  for (const l of lines) {
    if (/^[ \t]/.test(l) && cur) {
      headers[cur] += ' ' + l.trim();
      continue;
    }
    const i = l.indexOf(':');
    if (i <= 0) continue;
    cur = l.slice(0, i).trim().toLowerCase();
    const v = l.slice(i + 1).trim();
    headers[cur] = headers[cur] === undefined ? v : `${headers[cur]}, ${v}`;
  }
  return { headers, body };
}

/** 'text/plain; charset="utf-8"; boundary=x' → { type: 'text/plain', params: {charset, boundary} } */
export function parseContentType(v) {
  const out = { type: 'text/plain', params: {} };
  if (!v) return out;
  const parts = v.split(';');
  out.type = parts.shift().trim().toLowerCase() || 'text/plain';
  for (const p of parts) {
    const i = p.indexOf('=');
    if (i < 0) continue;
    let val = p.slice(i + 1).trim();
    if (val.startsWith('"') && val.endsWith('"')) val = val.slice(1, -1);
    out.params[p.slice(0, i).trim().toLowerCase()] = val;
  }
  return out;
}

/** Leaf parts of a MIME entity, decoded: [{ contentType, headers, body }]. */
function leafParts(raw, depth = 0) {
  const { headers, body } = parseEntity(raw);
  const ct = parseContentType(headers['content-type']);
  if (ct.type.startsWith('multipart/') && ct.params.boundary && depth < 10) {
    const b = `--${ct.params.boundary}`;
    const out = [];
    const chunks = body.split(b);
    // chunks[0] is the preamble; the chunk starting with "--" is the epilogue
    for (const c of chunks.slice(1)) {
      if (c.startsWith('--')) break;
      out.push(...leafParts(c.replace(/^\r\n/, '').replace(/\r\n$/, ''), depth + 1));
    }
    return out;
  }
  return [
    {
      contentType: ct.type,
      headers,
      body: decodeBody(body, headers['content-transfer-encoding'], ct.params.charset),
    },
  ];
}

const decodeEntities = (s) =>
  s
    .replace(/&amp;/g, '&')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;|&#x27;/g, "'")
    .replace(/&#(\d+);/g, (_, n) => String.fromCharCode(Number(n)));

/** Parses a whole message (DATA, dot-unstuffed) into { headers, subject, text, html, parts }. */
export function parseMessage(data) {
  const { headers } = parseEntity(data);
  const parts = leafParts(data);
  const plain = parts.find((p) => p.contentType === 'text/plain');
  const html = parts.find((p) => p.contentType === 'text/html');
  return {
    headers,
    subject: decodeMimeWords(headers.subject ?? ''),
    text: plain ? plain.body : html ? html.body : '',
    html: html ? html.body : null,
    parts: parts.map((p) => ({ contentType: p.contentType, body: p.body })),
  };
}

const URL_RE = /https?:\/\/[^\s"'<>\\]+/i;

/** The first http(s) URL in text (HTML entities such as &amp; decoded, trailing punctuation dropped). */
export function extractLink(text) {
  if (!text) return null;
  const m = URL_RE.exec(String(text));
  if (!m) return null;
  return decodeEntities(m[0]).replace(/[).,;:!?\]]+$/, '');
}

/** Every http(s) URL in text, decoded as extractLink does. */
export function extractLinks(text) {
  if (!text) return [];
  const re = new RegExp(URL_RE.source, 'gi');
  return [...String(text).matchAll(re)].map((m) => decodeEntities(m[0]).replace(/[).,;:!?\]]+$/, ''));
}

/** The first stand-alone 6-digit code in text (URLs are ignored, so a token inside a link never matches). */
export function extractOtp(text) {
  if (!text) return null;
  const withoutUrls = String(text).replace(new RegExp(URL_RE.source, 'gi'), ' ');
  const m = /(?<![\w.-])(\d{6})(?![\w])/.exec(withoutUrls);
  return m ? m[1] : null;
}

/** 'Name <a@b>' or '<a@b>' or 'a@b' (+ ESMTP params) → 'a@b' */
function parsePath(arg) {
  const m = /<([^>]*)>/.exec(arg);
  if (m) return m[1].trim();
  return arg.trim().split(/\s+/)[0] ?? '';
}

/**
 * startSmtpSink({ host = '127.0.0.1', port = 0, failRcpt, tls, key, cert }) → sink
 * failRcpt(address) → truthy to refuse that recipient with 550 (to test delivery failures).
 * tls: undefined (plain; STARTTLS → 454), 'starttls' (EHLO offers STARTTLS, the socket is
 * upgraded, a new EHLO is required before MAIL/AUTH) or 'implicit' (TLS from the first byte).
 * key, cert: PEM (string or Buffer) of the sink's certificate, required with tls.
 */
export function startSmtpSink(opts = {}) {
  const mode = opts.tls ?? 'none';
  if (!['none', 'starttls', 'implicit'].includes(mode)) throw new Error(`startSmtpSink: tls must be 'starttls' or 'implicit', not ${mode}`);
  if (mode !== 'none' && !(opts.key && opts.cert)) throw new Error(`startSmtpSink: tls '${mode}' needs key and cert`);
  const secureContext = mode === 'none' ? null : tls.createSecureContext({ key: opts.key, cert: opts.cert });
  const messages = [];
  const auth = [];
  const commands = [];
  const tlsErrors = [];
  const injected = [];
  const waiters = new Set();
  const sockets = new Set();
  const sink = {
    port: 0,
    host: opts.host ?? '127.0.0.1',
    tls: mode,
    messages,
    auth,
    commands,
    tlsErrors,
    injected,
    sessions: 0,
    /** Messages to an address (case-insensitive). */
    messagesTo(addr) {
      const a = String(addr).toLowerCase();
      return messages.filter((m) => m.to.some((t) => t.toLowerCase() === a));
    },
    /** How many messages arrived so far: pass it as { since } to waitFor to skip older ones. */
    mark() {
      return messages.length;
    },
    /**
     * Resolves with the first message (index >= since) matching a predicate or sent to an
     * address; rejects after timeoutMs listing what did arrive.
     */
    waitFor(match, timeoutMs = 5000, { since = 0 } = {}) {
      const pred =
        typeof match === 'function'
          ? match
          : (m) => m.to.some((t) => t.toLowerCase() === String(match).toLowerCase());
      const find = () => messages.slice(since).find((m) => pred(m));
      const hit = find();
      if (hit) return Promise.resolve(hit);
      return new Promise((resolve, reject) => {
        const w = {
          check: () => {
            const m = find();
            if (m) {
              clearTimeout(w.timer);
              waiters.delete(w);
              resolve(m);
            }
          },
        };
        w.timer = setTimeout(() => {
          waiters.delete(w);
          const got = messages
            .slice(since)
            .map((m) => `to=${m.to.join(',')} subject=${JSON.stringify(m.subject)}`)
            .join('; ');
          reject(
            new Error(
              `smtp sink: no message ${typeof match === 'function' ? 'matching the predicate' : `to ${match}`} after ${timeoutMs} ms (got ${messages.length - since}: ${got || 'none'})`,
            ),
          );
        }, timeoutMs);
        waiters.add(w);
      });
    },
    /** Resolves true if no message matching arrives within ms (for "no mail was sent" checks). */
    async expectNone(match, ms = 500, { since = 0 } = {}) {
      try {
        await sink.waitFor(match, ms, { since });
        return false;
      } catch {
        return true;
      }
    },
    close() {
      for (const s of sockets) s.destroy();
      for (const w of waiters) clearTimeout(w.timer);
      return new Promise((r) => server.close(() => r()));
    },
  };

  const onConnection = (plainOrTls) => {
    let socket = plainOrTls;
    sockets.add(socket);
    const id = ++sink.sessions;
    const session = {
      id,
      helo: null,
      auth: null,
      from: null,
      to: [],
      inData: false,
      data: '',
      authState: null,
      secure: mode === 'implicit',
      tlsProtocol: mode === 'implicit' ? socket.getProtocol() : null,
      needHelo: false, // set by STARTTLS: the client must EHLO again (RFC 3207 4.2)
      upgrading: false,
      transcript: [],
    };
    let buf = '';
    const reply = (s) => {
      if (!socket.destroyed) socket.write(s + CRLF);
    };
    const reset = () => {
      session.from = null;
      session.to = [];
      session.data = '';
      session.inData = false;
    };
    const finishData = () => {
      // lines were dot-unstuffed as they arrived; the bytes are UTF-8
      const data = Buffer.from(session.data, 'latin1').toString('utf8');
      let parsed;
      try {
        parsed = parseMessage(data);
      } catch (e) {
        parsed = { headers: {}, subject: '', text: data, html: null, parts: [], parseError: e.message };
      }
      const msg = {
        from: session.from,
        to: [...session.to],
        data,
        ...parsed,
        session: { id, helo: session.helo, auth: session.auth, transcript: [...session.transcript] },
        secure: session.secure,
        tlsProtocol: session.tlsProtocol,
        at: Date.now(),
      };
      messages.push(msg);
      reset();
      reply('250 2.0.0 OK queued');
      for (const w of [...waiters]) w.check();
    };

    const onLine = (line) => {
      if (session.inData) {
        if (line === '.') return finishData();
        session.data += (line.startsWith('.') ? line.slice(1) : line) + '\r\n'; // dot-unstuffing
        return;
      }
      if (session.authState) return onAuthLine(line);
      const sp = line.indexOf(' ');
      const verb = (sp < 0 ? line : line.slice(0, sp)).toUpperCase();
      const arg = sp < 0 ? '' : line.slice(sp + 1);
      commands.push(verb === 'AUTH' ? `AUTH ${arg.split(' ')[0]} ***` : line);
      session.transcript.push({ verb: verb === 'AUTH' ? `AUTH ${arg.split(' ')[0].toUpperCase()}` : verb, secure: session.secure });
      if (session.needHelo && ['AUTH', 'MAIL', 'RCPT', 'DATA'].includes(verb))
        return reply('503 5.5.1 EHLO/HELO first (the TLS session starts afresh)');
      switch (verb) {
        case 'EHLO': {
          session.helo = arg;
          session.needHelo = false;
          reset();
          const ext = ['8BITMIME', 'SIZE 52428800'];
          if (mode === 'starttls' && !session.secure) ext.push('STARTTLS');
          ext.push('AUTH PLAIN LOGIN', 'HELP');
          socket.write(`250-smtp-sink greets ${arg || 'you'}${CRLF}${ext.map((e, i) => `250${i === ext.length - 1 ? ' ' : '-'}${e}${CRLF}`).join('')}`);
          return;
        }
        case 'HELO':
          session.helo = arg;
          session.needHelo = false;
          reset();
          return reply('250 smtp-sink');
        case 'AUTH': {
          const [mech, initial] = arg.split(/\s+/);
          const m = (mech || '').toUpperCase();
          if (m === 'PLAIN') {
            if (initial && initial !== '=') return finishPlain(initial);
            session.authState = { mech: 'PLAIN' };
            return reply('334 ');
          }
          if (m === 'LOGIN') {
            if (initial) {
              session.authState = { mech: 'LOGIN', user: Buffer.from(initial, 'base64').toString('utf8') };
              return reply('334 UGFzc3dvcmQ6'); // "Password:"
            }
            session.authState = { mech: 'LOGIN' };
            return reply('334 VXNlcm5hbWU6'); // "Username:"
          }
          return reply('504 5.5.4 Unrecognized authentication type');
        }
        case 'MAIL':
          if (!/^FROM:/i.test(arg)) return reply('501 5.5.4 Syntax: MAIL FROM:<address>');
          reset();
          session.from = parsePath(arg.slice(5));
          return reply('250 2.1.0 OK');
        case 'RCPT': {
          if (!/^TO:/i.test(arg)) return reply('501 5.5.4 Syntax: RCPT TO:<address>');
          if (session.from === null) return reply('503 5.5.1 Need MAIL first');
          const to = parsePath(arg.slice(3));
          if (opts.failRcpt && opts.failRcpt(to)) return reply('550 5.1.1 Mailbox unavailable');
          session.to.push(to);
          return reply('250 2.1.5 OK');
        }
        case 'DATA':
          if (!session.to.length) return reply('503 5.5.1 Need RCPT first');
          session.inData = true;
          session.data = '';
          return reply('354 End data with <CR><LF>.<CR><LF>');
        case 'RSET':
          reset();
          return reply('250 2.0.0 OK');
        case 'NOOP':
          return reply('250 2.0.0 OK');
        case 'VRFY':
          return reply('252 2.0.0 Cannot VRFY');
        case 'QUIT':
          reply('221 2.0.0 Bye');
          return socket.end();
        case 'STARTTLS':
          if (mode !== 'starttls') return reply('454 4.7.0 TLS not available');
          if (session.secure) return reply('503 5.5.1 TLS already active');
          if (arg) return reply('501 5.5.4 Syntax: STARTTLS');
          reply('220 2.0.0 Ready to start TLS');
          return upgrade();
        case '':
          return reply('500 5.5.2 Empty command');
        default:
          return reply('502 5.5.2 Command not recognized');
      }
    };

    const finishPlain = (b64) => {
      // authzid \0 authcid \0 passwd
      const parts = Buffer.from(b64, 'base64').toString('utf8').split('\0');
      const rec = { mechanism: 'PLAIN', user: parts[1] ?? '', pass: parts[2] ?? '', authzid: parts[0] ?? '', secure: session.secure, session: id };
      auth.push(rec);
      session.auth = rec;
      session.authState = null;
      reply('235 2.7.0 Authentication successful');
    };
    const onAuthLine = (line) => {
      const st = session.authState;
      if (line === '*') {
        session.authState = null;
        return reply('501 5.7.0 Authentication cancelled');
      }
      if (st.mech === 'PLAIN') return finishPlain(line);
      if (st.user === undefined) {
        st.user = Buffer.from(line, 'base64').toString('utf8');
        return reply('334 UGFzc3dvcmQ6');
      }
      const rec = { mechanism: 'LOGIN', user: st.user, pass: Buffer.from(line, 'base64').toString('utf8'), secure: session.secure, session: id };
      auth.push(rec);
      session.auth = rec;
      session.authState = null;
      reply('235 2.7.0 Authentication successful');
    };

    // STARTTLS: the plain socket becomes a server-side TLSSocket; the SMTP state is forgotten.
    const upgrade = () => {
      session.upgrading = true;
      const plain = socket;
      plain.removeListener('data', onData);
      const secure = new tls.TLSSocket(plain, { isServer: true, secureContext });
      sockets.add(secure);
      socket = secure;
      reset();
      session.helo = null;
      session.auth = null;
      session.authState = null;
      session.needHelo = true;
      secure.on('secure', () => {
        session.secure = true;
        session.tlsProtocol = secure.getProtocol();
      });
      secure.on('data', onData);
      let failed = false;
      secure.on('error', (e) => {
        failed = true;
        tlsErrors.push({ session: id, stage: session.secure ? 'session' : 'starttls', message: e.message, code: e.code });
      });
      secure.on('close', () => {
        sockets.delete(secure);
        // a client that drops the connection without an alert (it refused the certificate)
        if (!session.secure && !failed)
          tlsErrors.push({ session: id, stage: 'starttls', message: 'connection closed during the TLS handshake', code: null });
      });
    };

    const onData = (chunk) => {
      buf += typeof chunk === 'string' ? chunk : chunk.toString('latin1'); // bytes as-is; bodies are re-decoded as utf8
      for (;;) {
        // lines end with CRLF; be lenient with a bare LF
        const i = buf.indexOf('\n');
        if (i < 0) break;
        let line = buf.slice(0, i);
        if (line.endsWith('\r')) line = line.slice(0, -1);
        buf = buf.slice(i + 1);
        try {
          onLine(line);
        } catch (e) {
          reply(`451 4.3.0 sink error: ${e.message}`);
        }
        if (session.upgrading) {
          // whatever came with STARTTLS before the handshake is not trusted (command injection)
          if (buf) injected.push({ session: id, text: buf });
          buf = '';
          session.upgrading = false;
          return;
        }
      }
    };
    socket.on('data', onData);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(plainOrTls));
    reply('220 smtp-sink ESMTP ready');
  };

  const server =
    mode === 'implicit'
      ? tls.createServer({ key: opts.key, cert: opts.cert }, onConnection)
      : net.createServer(onConnection);
  if (mode === 'implicit')
    server.on('tlsClientError', (e) => tlsErrors.push({ session: null, stage: 'implicit', message: e.message, code: e.code }));

  return new Promise((resolve, reject) => {
    server.on('error', reject);
    server.listen(opts.port ?? 0, sink.host, () => {
      sink.port = server.address().port;
      resolve(sink);
    });
  });
}
