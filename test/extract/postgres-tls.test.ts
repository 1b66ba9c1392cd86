import { describe, expect, inject, it } from 'vitest';
import { errorOf, queryFile } from '../support/report-files.ts';
import { runDailyReport } from '../support/run-cli.ts';
import { makeTestCertificates } from '../support/test-ca.ts';
import { createTestDatabase } from '../support/test-database.ts';

const postgres = inject('postgres');
const caFile = postgres.caFile;

/** The report's status column says whether the job's own session is encrypted. */
const SESSION_SSL = `SELECT now() AS data_extracao, 'x' AS nome_usuario, 1 AS id_transacao, 1 AS valor_transacao,
  (SELECT ssl::text FROM pg_stat_ssl WHERE pid = pg_backend_pid()) AS status_transacao`;

describe.skipIf(!caFile)(`PGSSLMODE and PGSSLROOTCERT against a TLS-enabled PostgreSQL${caFile ? '' : ' — SKIPPED: the server PGHOST names has no test CA'}`, () => {
  const sessionSsl = async (env: Record<string, string>) => {
    const db = await createTestDatabase('tls');
    const sqlFile = await queryFile(db.outDir, 'ssl', SESSION_SSL);
    const result = await runDailyReport(['run', '--dry-run'], { env: { ...db.env, REPORT_SQL_FILE: sqlFile, ...env } });
    return { result, ssl: result.stdout.split('\r\n')[1]?.split(',')[4] };
  };

  it.each([
    [{ PGSSLMODE: 'disable' }, 'false'],
    [{ PGSSLMODE: 'require' }, 'true'],
    [{ PGSSLMODE: 'verify-ca', PGSSLROOTCERT: caFile! }, 'true'],
    [{ PGSSLMODE: 'verify-full', PGSSLROOTCERT: caFile!, PGHOST: 'localhost' }, 'true'],
  ])('with %j the session is encrypted: %s', async (env, encrypted) => {
    const { result, ssl } = await sessionSsl(env);
    expect(result.code, result.stderr).toBe(0);
    expect(ssl).toBe(encrypted);
  });

  it('verify-full refuses a server whose certificate another CA signed: exit 4', async () => {
    const otherCa = makeTestCertificates().caFile;
    const { result } = await sessionSsl({ PGSSLMODE: 'verify-full', PGSSLROOTCERT: otherCa, PGHOST: 'localhost' });
    expect(result.code).toBe(4);
    expect(errorOf(result).msg).toMatch(/TLS verification of localhost:\d+ failed .*PGSSLROOTCERT/);
  });

  it('verify-full checks the host name (the certificate names localhost, not 127.0.0.1): exit 4; verify-ca does not', async () => {
    const full = await sessionSsl({ PGSSLMODE: 'verify-full', PGSSLROOTCERT: caFile!, PGHOST: '127.0.0.1' });
    expect(full.result.code).toBe(4);
    expect(errorOf(full.result).msg).toMatch(/TLS verification of 127\.0\.0\.1:\d+ failed \(ERR_TLS_CERT_ALTNAME_INVALID\)/);
    const ca = await sessionSsl({ PGSSLMODE: 'verify-ca', PGSSLROOTCERT: caFile!, PGHOST: '127.0.0.1' });
    expect(ca.result.code, ca.result.stderr).toBe(0);
    expect(ca.ssl).toBe('true');
  });
});
