// Throwaway TLS material for tests, made with the openssl CLI in a temp dir (EC P-256 keys, valid
// for two days):
//
//   const certs = makeTestCerts();
//   certs.ca.certFile                          the private CA (PEM) a client is told to trust
//   certs.server   { key, cert, keyFile, certFile }   signed by the CA for 127.0.0.1:
//                  subjectAltName IP:127.0.0.1, DNS:localhost (CN 127.0.0.1)
//   certs.selfSigned  { key, cert, ... }       self-signed, same names, chains to nothing trusted
//   certs.wrongName   { key, cert, ... }       signed by the CA but for other.invalid only
//   certs.issue(name, { cn, san })             another certificate from the CA, e.g.
//                                              { cn: '192.0.2.2', san: 'IP:192.0.2.2' }
//   certs.cleanup()                            removes the dir
//
// key and cert are the PEM texts (for tls.createSecureContext); the *File paths are for a
// server's configuration.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

function openssl(args, cwd) {
  try {
    return execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  } catch (e) {
    throw new Error(`openssl ${args.join(' ')} failed: ${e.stderr || e.message}`);
  }
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** A leaf certificate signed by the CA in dir (ca.pem/ca.key) for the given names. */
function leaf(dir, name, { cn, san }) {
  openssl(['req', ...EC, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`], dir);
  fs.writeFileSync(
    path.join(dir, `${name}.ext`),
    [
      `subjectAltName = ${san}`,
      'basicConstraints = critical, CA:FALSE',
      'keyUsage = critical, digitalSignature, keyEncipherment',
      'extendedKeyUsage = serverAuth',
      '',
    ].join('\n'),
  );
  openssl(
    ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
      '-days', '2', '-sha256', '-extfile', `${name}.ext`, '-out', `${name}.pem`],
    dir,
  );
  return files(dir, name);
}

function files(dir, name) {
  const keyFile = path.join(dir, `${name}.key`);
  const certFile = path.join(dir, `${name}.pem`);
  return { keyFile, certFile, key: fs.readFileSync(keyFile, 'utf8'), cert: fs.readFileSync(certFile, 'utf8') };
}

/** Makes the CA, the server certificate and the untrusted ones in a fresh temp dir. */
export function makeTestCerts({ dir } = {}) {
  dir ??= fs.mkdtempSync(path.join(os.tmpdir(), 'alpaca-tls-'));
  fs.mkdirSync(dir, { recursive: true });
  openssl(
    ['req', '-x509', ...EC, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-sha256',
      '-subj', '/CN=Alpaca Test CA',
      '-addext', 'basicConstraints = critical, CA:TRUE',
      '-addext', 'keyUsage = critical, keyCertSign, cRLSign'],
    dir,
  );
  const server = leaf(dir, 'server', { cn: '127.0.0.1', san: 'IP:127.0.0.1, DNS:localhost' });
  const wrongName = leaf(dir, 'wrong-name', { cn: 'other.invalid', san: 'DNS:other.invalid' });
  openssl(
    ['req', '-x509', ...EC, '-keyout', 'self-signed.key', '-out', 'self-signed.pem', '-days', '2', '-sha256',
      '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName = IP:127.0.0.1, DNS:localhost',
      '-addext', 'extendedKeyUsage = serverAuth'],
    dir,
  );
  const selfSigned = files(dir, 'self-signed');
  return {
    dir,
    ca: { certFile: path.join(dir, 'ca.pem'), cert: fs.readFileSync(path.join(dir, 'ca.pem'), 'utf8') },
    server,
    selfSigned,
    wrongName,
    issue: (name, names) => leaf(dir, name, names),
    cleanup() {
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
