// A small OAuth2 provider for tests, on 127.0.0.1 (port 0): GitHub-like and OIDC-like endpoints.
//
//   const p = await startOAuthProvider({ clientId: 'cid', clientSecret: 'secret' });
//   p.setUser({ id: 4242, email: 'octo@example.com', name: 'Octo Cat', avatar_url, email_verified: true });
//   ... authorize_url: `${p.url}/authorize`, token_url: `${p.url}/token`, userinfo_url: `${p.url}/user` ...
//   p.requests  → every request: { method, path, query, headers, body, form, at }
//   await p.close();
//
// GET  /authorize?client_id&redirect_uri&state&scope&response_type=code
//        → 302 redirect_uri?code=<random>&state=<state> for the user configured now
//        (400 JSON for a wrong client_id, a missing redirect_uri or response_type != code)
// POST /token  (form or JSON; client credentials in the body or HTTP Basic)
//        grant_type=authorization_code, code, redirect_uri → { access_token, token_type: 'bearer', scope }
//        anything else → 400/401 { error } (codes are single use; redirect_uri must match)
// GET  /user        (Bearer) → { id (number), login, name, email, avatar_url }   (GitHub)
// GET  /user/emails (Bearer) → [{ email, primary: true, verified }]              (GitHub)
// GET  /userinfo    (Bearer) → { sub, email, email_verified, name, picture }     (OIDC)
// Node 20 built-ins only.
import crypto from 'node:crypto';
import http from 'node:http';

const rand = (n = 16) => crypto.randomBytes(n).toString('hex');

function send(res, status, body, headers = {}) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, {
    'content-type': typeof body === 'string' ? 'text/plain' : 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

function readBody(req) {
  return new Promise((resolve) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', () => resolve(''));
  });
}

/** Parses a form or JSON body into a plain object of strings. */
function parseForm(req, body) {
  const ct = String(req.headers['content-type'] || '').toLowerCase();
  if (ct.includes('application/json')) {
    try {
      const j = JSON.parse(body || '{}');
      return j && typeof j === 'object' ? Object.fromEntries(Object.entries(j).map(([k, v]) => [k, String(v)])) : {};
    } catch {
      return null;
    }
  }
  return Object.fromEntries(new URLSearchParams(body));
}

/**
 * startOAuthProvider({ clientId, clientSecret, host = '127.0.0.1', port = 0, tokenFormat = 'json' })
 * tokenFormat 'form' answers /token as application/x-www-form-urlencoded (GitHub without an
 * Accept: application/json header); the default is JSON unless the client only accepts a form.
 */
export function startOAuthProvider(opts = {}) {
  const clientId = opts.clientId ?? 'test-client-id';
  const clientSecret = opts.clientSecret ?? 'test-client-secret';
  const codes = new Map(); // code → { user, redirectUri, clientId, scope, used }
  const tokens = new Map(); // access token → user
  const requests = [];
  let currentUser = {
    id: 1001,
    email: 'octo@example.com',
    name: 'Octo Cat',
    login: 'octocat',
    avatar_url: 'https://avatars.example.com/u/1001',
    email_verified: true,
  };

  const provider = {
    url: '',
    port: 0,
    clientId,
    clientSecret,
    requests,
    codes,
    /** The user the next /authorize issues a code for (fields merged over defaults). */
    setUser(u) {
      currentUser = {
        login: u.login ?? String(u.name ?? u.email ?? 'user').replace(/[^\w-]/g, '').toLowerCase(),
        avatar_url: u.avatar_url ?? `https://avatars.example.com/u/${u.id}`,
        email_verified: u.email_verified ?? true,
        ...u,
      };
      return currentUser;
    },
    get user() {
      return currentUser;
    },
    /** Requests to one path (and method). */
    requestsTo(path, method) {
      return requests.filter((r) => r.path === path && (!method || r.method === method));
    },
    close() {
      return new Promise((r) => {
        server.closeAllConnections?.();
        server.close(() => r());
      });
    },
  };

  const bearerUser = (req) => {
    const m = /^(?:Bearer|token)\s+(.+)$/i.exec(String(req.headers.authorization || ''));
    return m ? tokens.get(m[1].trim()) : undefined;
  };

  const server = http.createServer(async (req, res) => {
    const u = new URL(req.url, 'http://provider.invalid');
    const body = await readBody(req);
    const rec = {
      method: req.method,
      path: u.pathname,
      query: Object.fromEntries(u.searchParams),
      headers: req.headers,
      body,
      form: null,
      at: Date.now(),
    };
    requests.push(rec);
    try {
      if (req.method === 'GET' && u.pathname === '/authorize') {
        const q = rec.query;
        if (q.client_id !== clientId) return send(res, 400, { error: 'invalid_client', error_description: `unknown client_id ${q.client_id}` });
        if (!q.redirect_uri) return send(res, 400, { error: 'invalid_request', error_description: 'redirect_uri required' });
        if ((q.response_type ?? 'code') !== 'code') return send(res, 400, { error: 'unsupported_response_type' });
        const code = rand(12);
        codes.set(code, { user: { ...currentUser }, redirectUri: q.redirect_uri, clientId: q.client_id, scope: q.scope ?? '', used: false });
        const to = new URL(q.redirect_uri);
        to.searchParams.set('code', code);
        if (q.state !== undefined) to.searchParams.set('state', q.state);
        return send(res, 302, '', { location: to.toString() });
      }

      if (req.method === 'POST' && u.pathname === '/token') {
        const form = parseForm(req, body);
        rec.form = form;
        if (!form) return send(res, 400, { error: 'invalid_request', error_description: 'malformed body' });
        let id = form.client_id;
        let secret = form.client_secret;
        const basic = /^Basic\s+(.+)$/i.exec(String(req.headers.authorization || ''));
        if (basic) {
          const dec = Buffer.from(basic[1], 'base64').toString('utf8');
          const i = dec.indexOf(':');
          id = decodeURIComponent(dec.slice(0, i));
          secret = decodeURIComponent(dec.slice(i + 1));
        }
        rec.clientAuth = { id, secret, basic: !!basic };
        if (id !== clientId || secret !== clientSecret) return send(res, 401, { error: 'invalid_client' });
        if (form.grant_type !== 'authorization_code') return send(res, 400, { error: 'unsupported_grant_type' });
        const c = codes.get(form.code);
        if (!c || c.used || c.redirectUri !== form.redirect_uri || c.clientId !== id) {
          return send(res, 400, { error: 'invalid_grant', error_description: 'bad or used code, or redirect_uri mismatch' });
        }
        c.used = true;
        const accessToken = `gho_${rand(16)}`;
        tokens.set(accessToken, c.user);
        const out = { access_token: accessToken, token_type: 'bearer', scope: c.scope };
        const wantsForm =
          opts.tokenFormat === 'form' ||
          (/application\/x-www-form-urlencoded/i.test(String(req.headers.accept || '')) && !/json/i.test(String(req.headers.accept || '')));
        if (wantsForm) {
          const text = new URLSearchParams(out).toString();
          res.writeHead(200, { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(text) });
          return res.end(text);
        }
        return send(res, 200, out);
      }

      if (req.method === 'GET' && (u.pathname === '/user' || u.pathname === '/user/emails' || u.pathname === '/userinfo')) {
        const user = bearerUser(req);
        if (!user) return send(res, 401, { message: 'Bad credentials' });
        if (u.pathname === '/user') {
          return send(res, 200, {
            id: Number(user.id),
            login: user.login,
            name: user.name ?? null,
            email: user.email ?? null,
            avatar_url: user.avatar_url ?? null,
          });
        }
        if (u.pathname === '/user/emails') {
          return send(res, 200, user.email ? [{ email: user.email, primary: true, verified: user.email_verified !== false, visibility: 'public' }] : []);
        }
        return send(res, 200, {
          sub: String(user.id),
          email: user.email ?? null,
          email_verified: user.email_verified !== false,
          name: user.name ?? null,
          picture: user.avatar_url ?? null,
        });
      }
      return send(res, 404, { error: 'not_found', path: u.pathname });
    } catch (e) {
      return send(res, 500, { error: 'fake provider error', detail: e.message });
    }
  });

  return new Promise((resolve, reject) => {
    server.on('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      provider.port = server.address().port;
      provider.url = `http://${opts.host ?? '127.0.0.1'}:${provider.port}`;
      resolve(provider);
    });
  });
}
