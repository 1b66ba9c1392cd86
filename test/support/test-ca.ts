import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCertificates {
  /** PEM of the private CA (what NODE_EXTRA_CA_CERTS points at). */
  readonly caFile: string;
  readonly key: string;
  readonly cert: string;
}

/** A throwaway private CA and a server certificate for the name localhost, made with openssl. */
export function makeTestCertificates(): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), 'daily-report-ca-'));
  const path = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=daily-report test CA', '-keyout', path('ca.key'), '-out', path('ca.pem'));
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', path('server.key'), '-out', path('server.csr'));
  // Only the name: connecting by IP address must fail host-name verification (verify-full) and pass verify-ca.
  writeFileSync(path('san.ext'), 'subjectAltName=DNS:localhost\n');
  openssl('x509', '-req', '-in', path('server.csr'), '-CA', path('ca.pem'), '-CAkey', path('ca.key'), '-CAcreateserial', '-days', '1', '-extfile', path('san.ext'), '-out', path('server.pem'));
  return { caFile: path('ca.pem'), key: readFileSync(path('server.key'), 'utf8'), cert: readFileSync(path('server.pem'), 'utf8') };
}
