// Helpers for storage.e2e.test.mjs: the storage plugin's path, byte digests, Supabase Storage
// error assertions (storage-js keeps message, status and the body's statusCode; the body's
// `error` field is read back from the logged exchange) and a logged plain fetch for signed and
// public URLs (what a browser does with them).
import crypto from 'node:crypto';
import { assert, databasePlugin, authPlugin, storagePlugin, loggingFetch } from './lib.mjs';

export { storagePlugin };


/** database + auth + storage: what a storage e2e server loads. */
export const storagePlugins = `${databasePlugin},${authPlugin},${storagePlugin}`;

export const sha256 = (buf) => crypto.createHash('sha256').update(buf).digest('hex');
export const md5 = (buf) => crypto.createHash('md5').update(buf).digest('hex');

/** The bytes of a download() result (a Blob). */
export async function blobBytes(blob) {
  assert.ok(blob && typeof blob.arrayBuffer === 'function', `expected a Blob, got ${String(blob)}`);
  return Buffer.from(await blob.arrayBuffer());
}

const show = (v) => {
  const s = JSON.stringify(v);
  return s && s.length > 600 ? `${s.slice(0, 600)}…` : s;
};

/**
 * The JSON body of the last logged exchange whose URL contains `urlPart` (or the last one): the
 * body's `error` field never reaches storage-js's error object.
 */
export function lastBody(log, urlPart) {
  for (let i = log.length - 1; i >= 0; i--) {
    const e = log[i];
    if (urlPart && !String(e.url).includes(urlPart)) continue;
    try {
      return JSON.parse(e.response);
    } catch {
      return e.response;
    }
  }
  return undefined;
}

/**
 * Assert a storage-js result is an error: { data: null, error: StorageApiError } with the given
 * HTTP `status` (number or array), the body's `statusCode` (string) and `message` (string or
 * RegExp). `error`: the body's `error` field (checked against the last exchange in `log`).
 * Returns the error.
 */
export function sfails(res, { status, statusCode, message, error, log, urlPart } = {}, what = 'request') {
  assert.ok(res && typeof res === 'object', `${what}: no result object`);
  assert.ok(res.error, `${what}: expected an error (statusCode ${statusCode}), got data ${show(res.data)}`);
  const e = res.error;
  assert.equal(e.name, 'StorageApiError', `${what}: not an API error: ${e.name} ${e.message}`);
  assert.equal(res.data, null, `${what}: data must be null on error`);
  if (status !== undefined) {
    const ss = [].concat(status);
    assert.ok(ss.includes(e.status), `${what}: HTTP status ${e.status} is not ${ss.join(' or ')}: ${show(e)}`);
  }
  if (statusCode !== undefined) {
    const cs = [].concat(statusCode);
    assert.ok(cs.includes(e.statusCode), `${what}: statusCode ${show(e.statusCode)} is not ${cs.join(' or ')}: ${show(e)}`);
  }
  if (message instanceof RegExp) assert.match(e.message, message, `${what}: message`);
  else if (Array.isArray(message)) assert.ok(message.includes(e.message), `${what}: message ${show(e.message)} not in ${show(message)}`);
  else if (message !== undefined) assert.equal(e.message, message, `${what}: message`);
  if (error !== undefined && log) {
    const body = lastBody(log, urlPart);
    const es = [].concat(error);
    assert.ok(body && es.includes(body.error), `${what}: body.error ${show(body && body.error)} is not ${es.join(' or ')}: ${show(body)}`);
  }
  return e;
}

/** Assert a storage-js result has no error; returns data. */
export function sok(res, what = 'request') {
  assert.ok(res && typeof res === 'object', `${what}: no result object`);
  if (res.error)
    assert.fail(`${what}: unexpected error (status ${res.error.status}, statusCode ${res.error.statusCode}): ${res.error.message}`);
  return res.data;
}

/**
 * A plain fetch (signed and public URLs need no client) recorded in the suite's log; returns
 * { status, headers, bytes, text, json }.
 */
export function plainFetcher(log) {
  const f = loggingFetch(log);
  return async (url, init = {}) => {
    const res = await f(url, init);
    const bytes = Buffer.from(await res.arrayBuffer());
    let json;
    try {
      json = JSON.parse(bytes.toString('utf8'));
    } catch {}
    return { status: res.status, headers: res.headers, bytes, text: bytes.toString('utf8'), json };
  };
}

/** Replace one character in the middle of a JWT's signature (a token that no longer verifies). */
export function tamper(token) {
  const parts = token.split('.');
  assert.equal(parts.length, 3, `not a JWT: ${token}`);
  const sig = parts[2];
  const i = Math.floor(sig.length / 2);
  parts[2] = sig.slice(0, i) + (sig[i] === 'A' ? 'B' : 'A') + sig.slice(i + 1);
  return parts.join('.');
}

/** ISO-8601 timestamp within `slackMs` of now. */
export function assertRecent(value, what, slackMs = 10 * 60 * 1000) {
  assert.equal(typeof value, 'string', `${what}: expected a timestamp string, got ${show(value)}`);
  const t = Date.parse(value);
  assert.ok(Number.isFinite(t), `${what}: not a timestamp: ${value}`);
  assert.ok(Math.abs(Date.now() - t) < slackMs, `${what}: ${value} is not recent`);
}
