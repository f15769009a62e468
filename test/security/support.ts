/**
 * Helpers of the security tests: a self-signed certificate made at test time.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface Certificate {
  dir: string;
  certFile: string;
  keyFile: string;
  certPem: string;
  keyPem: string;
  remove(): void;
}

/** A self-signed P-256 certificate for localhost and 127.0.0.1, made with the openssl CLI. */
export function selfSignedCertificate(commonName = 'localhost'): Certificate {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-tls-'));
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  execFileSync(
    'openssl',
    [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', `/CN=${commonName}`,
      '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ],
    { stdio: 'ignore' },
  );
  return {
    dir,
    certFile,
    keyFile,
    certPem: fs.readFileSync(certFile, 'utf8'),
    keyPem: fs.readFileSync(keyFile, 'utf8'),
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}
