// What the storage test files share: a project on a running server with its keys, and short
// calls to its /storage/v1, its SQL and its blob directory.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fmt, randomHex } from './harness.mjs';

export async function openStorageProject(server, prefix) {
  const p = await server.api('POST', '/projects', { body: { name: `${prefix}-${randomHex(3)}` } });
  assert.equal(p.status, 201, fmt(p));
  const ref = p.json.id;
  const keys = (await server.api('GET', `/projects/${ref}/api-keys`)).json;
  const anon = keys.find((k) => k.name === 'anon').api_key;
  const service = keys.find((k) => k.name === 'service_role').api_key;
  const url = (x) => `/p/${ref}/storage/v1${x}`;
  const call = (method, x, { key = service, body, headers = {} } = {}) =>
    server.request(method, url(x), { headers: { apikey: key, ...headers }, body });
  const upload = (x, bytes, { method = 'POST', key = service, type = 'application/octet-stream', headers = {} } = {}) =>
    call(method, `/object/${x}`, { key, body: bytes, headers: { 'content-type': type, ...headers } });
  const sql = async (q) => {
    const r = await server.api('POST', `/projects/${ref}/query`, { body: { sql: q } });
    assert.equal(r.status, 200, fmt(r));
    return r.json.rows;
  };
  // The project's blob files (32-hex names under <data_dir>/storage/<ref>).
  const blobFiles = () => {
    const root = path.join(server.dataDir, 'storage', ref);
    if (!fs.existsSync(root)) return [];
    return fs.readdirSync(root, { recursive: true }).filter((f) => /^[0-9a-f]{32}$/.test(path.basename(String(f))));
  };
  return { ref, anon, service, url, call, upload, sql, blobFiles };
}
