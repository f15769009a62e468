/** A `tls` section (`tls`, `management.tls`, `grpc.tls`) of the settings file, and the PEM files it names. */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileReadProblem } from '../errors/index.js';
import type { TlsSetting } from './types.js';
import { childPath, describeValue, type FieldReader } from './yaml-fields.js';

const TLS_KEYS = ['cert', 'key'];

/**
 * Reads and checks the certificate and key now, so a bad file, a key of another certificate
 * or an expired certificate stops the start rather than failing every handshake. `folder`
 * anchors relative file names.
 */
export function readTls(f: FieldReader, value: unknown, path: string, folder: string): TlsSetting | undefined {
  const tls = f.mapping(value, path, TLS_KEYS);
  if (!tls) return undefined;
  const certPath = childPath(path, 'cert');
  const keyPath = childPath(path, 'key');
  const certFile = resolve(folder, f.required(f.string(tls.cert, certPath), certPath, 'a PEM certificate file (chain allowed)'));
  const keyFile = resolve(folder, f.required(f.string(tls.key, keyPath), keyPath, 'a PEM private key file'));
  const certPem = readPemFile(f, certFile, certPath);
  const keyPem = readPemFile(f, keyFile, keyPath);
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(certPem);
  } catch {
    return f.fail(certPath, `${describeValue(certFile)} is not a PEM certificate`);
  }
  let key;
  try {
    key = createPrivateKey(keyPem);
  } catch {
    return f.fail(keyPath, `${describeValue(keyFile)} is not an unencrypted PEM private key`);
  }
  if (!certificate.checkPrivateKey(key)) f.fail(keyPath, `${describeValue(keyFile)} is not the key of the certificate in ${certPath}`);
  if (Date.parse(certificate.validTo) < Date.now()) f.fail(certPath, `the certificate in ${describeValue(certFile)} expired on ${certificate.validTo}`);
  return { certFile, keyFile, certPem, keyPem };
}

/** A PEM file's text; an unreadable file fails at `path`, the key that named it. */
export function readPemFile(f: FieldReader, file: string, path: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    return f.fail(path, `cannot read ${describeValue(file)}: ${fileReadProblem(err)}`);
  }
}
