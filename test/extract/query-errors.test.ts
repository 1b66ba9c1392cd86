import { writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sourceOffset, withLiteralValues } from '../../src/extract/named-parameters.ts';
import { freePort } from '../support/child-processes.ts';
import { errorOf, filesIn, queryFile } from '../support/report-files.ts';
import { runDailyReport } from '../support/run-cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts';

const REPORT_DATE = ['--date', '2024-10-05'];
const values = { report_date: '2024-10-05', window_start: '2024-10-04T00:00:00.000-03:00', window_end: '2024-10-05T00:00:00.000-03:00', extracted_at: '2024-10-05T01:00:00.000-03:00' };

describe('where a database error points', () => {
  it('maps a character of the rewritten SQL back to the SQL as written, past every value', () => {
    const sql = 'SELECT :extracted_at AS a,\n  x FROM t WHERE c >= :window_start AND oops';
    const rewritten = withLiteralValues(sql, values);
    expect(sql.slice(sourceOffset(sql, values, rewritten.indexOf('oops')))).toBe('oops');
    expect(sql.slice(sourceOffset(sql, values, rewritten.indexOf('x FROM')))).toMatch(/^x FROM/);
    // Inside a value: the place of its :name.
    expect(sql.slice(sourceOffset(sql, values, rewritten.indexOf('2024-10-04')))).toMatch(/^:window_start/);
  });
});

describe('daily-report run, when the database or its settings say no', () => {
  let db: TestDatabase;
  let silent: Server;
  let silentPort: number;
  const held: Socket[] = [];
  beforeAll(async () => {
    db = await createTestDatabase('qerr');
    silentPort = await freePort();
    // Accepts connections and never answers: what a firewall that drops packets looks like after the handshake.
    silent = createServer((socket) => void held.push(socket)).listen(silentPort, '127.0.0.1');
  });
  afterAll(() => {
    for (const socket of held) socket.destroy();
    return new Promise<void>((resolve) => silent.close(() => resolve()));
  });

  it.each(['copy', 'cursor'])('names the line and column of a typo in the user\'s file, and keeps PostgreSQL\'s HINT (%s engine)', async (engine) => {
    const sqlFile = await queryFile(db.outDir, `typo-${engine}`, [
      'SELECT :extracted_at AS data_extracao,',
      '       u.nome AS nome_usuario, t.id AS id_transacao, t.valor AS valor_transacao,',
      '       t.status AS status_transacao, u.nme',
      'FROM transacoes t JOIN usuarios u ON u.id = t.usuario_id',
      'WHERE t.criado_em >= :window_start AND t.criado_em < :window_end',
    ].join('\n'));
    const result = await runDailyReport(['run', ...REPORT_DATE], { env: { ...db.env, REPORT_SQL_FILE: sqlFile, REPORT_ENGINE: engine } });
    expect(result.code).toBe(2);
    const message = errorOf(result).msg as string;
    expect(message).toContain(`at line 3, column 38 of ${sqlFile}: column u.nme does not exist (SQLSTATE 42703)`);
    expect(message).toContain('HINT: Perhaps you meant to reference the column "u.nome"');
    expect(await filesIn(db.outDir)).toEqual([]);
  });

  it('counts columns in characters, as PostgreSQL does, past accents and emoji', async () => {
    const sqlFile = await queryFile(db.outDir, 'emoji', [
      "SELECT :extracted_at AS data_extracao, 'Zoë 🙂' AS nome_usuario, 1 AS id_transacao, 1 AS valor_transacao, 'ok' AS status_transacao, 'ç🙂' || nada",
    ].join('\n'));
    const result = await runDailyReport(['run', ...REPORT_DATE], { env: { ...db.env, REPORT_SQL_FILE: sqlFile } });
    expect(result.code).toBe(2);
    expect(errorOf(result).msg).toContain(`at line 1, column 140 of ${sqlFile}: column "nada" does not exist`);
  });

  it('says PGCONNECT_TIMEOUT ran out when the server never answers, not "Connection terminated unexpectedly"', async () => {
    const result = await runDailyReport(['run', ...REPORT_DATE], { env: { ...db.env, PGPORT: String(silentPort), PGCONNECT_TIMEOUT: '1' } });
    expect(result.code).toBe(1);
    expect(errorOf(result).msg).toMatch(/did not complete the connection within PGCONNECT_TIMEOUT=1 s: check PGHOST and PGPORT/);
  });

  it('says the password file is empty, before connecting, instead of asking to set PGPASSWORD', async () => {
    const empty = join(db.outDir, 'empty-password');
    await writeFile(empty, '');
    const { PGPASSWORD: _, ...env } = db.env;
    const result = await runDailyReport(['run', ...REPORT_DATE], { env: { ...env, PGPASSWORD_FILE: empty } });
    expect(result.code).toBe(2);
    expect(errorOf(result).msg).toContain(`PGPASSWORD_FILE: ${empty} is empty`);
    expect(result.stderr).not.toMatch(/set PGPASSWORD or PGPASSWORD_FILE/);
  });
});
