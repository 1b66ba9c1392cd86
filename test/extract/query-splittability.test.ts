import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { ExitCode, QueryIsInvalid } from '../../src/errors.ts';
import { splittableQuery } from '../../src/extract/query-splittability.ts';

const SHIPPED = await readFile(new URL('../../sql/report.sql', import.meta.url), 'utf8');
const SELECT = `SELECT :extracted_at AS data_extracao, u.nome AS nome_usuario, t.id AS id_transacao, t.valor AS valor_transacao, t.status AS status_transacao
FROM transacoes AS t JOIN usuarios AS u ON u.id = t.usuario_id`;
const WINDOW = 'WHERE t.criado_em >= :window_start AND t.criado_em < :window_end';

async function refusal(sql: string): Promise<QueryIsInvalid> {
  const error = await splittableQuery(sql, 'report.sql').then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(QueryIsInvalid);
  expect((error as QueryIsInvalid).exitCode).toBe(ExitCode.invalidInput);
  expect((error as Error).message).toContain('REPORT_PARALLELISM=1');
  return error as QueryIsInvalid;
}

describe('which report queries split into shards', () => {
  it('the shipped query splits, on t.criado_em of transacoes', async () => {
    const split = await splittableQuery(SHIPPED);
    expect(split.windowColumn).toEqual({ fields: ['t', 'criado_em'], table: { name: 'transacoes' } });
  });

  it.each([
    ['no ORDER BY', `${SELECT} ${WINDOW}`],
    ['the window written the other way round, with casts', `${SELECT} WHERE :window_start::timestamptz <= t.criado_em AND :window_end::timestamptz > t.criado_em AND t.status <> 'x'`],
    ['ORDER BY the unqualified window column, ascending, then more', `${SELECT} ${WINDOW} ORDER BY criado_em ASC, t.id DESC`],
    ['aggregates and window functions inside subqueries and CTEs that do not use the window', `WITH totals AS (SELECT usuario_id, sum(valor) AS s FROM transacoes GROUP BY 1)
      SELECT :extracted_at AS data_extracao, (SELECT max(nome) FROM usuarios) AS nome_usuario, t.id AS id_transacao, x.s AS valor_transacao, t.status AS status_transacao
      FROM transacoes t JOIN totals x ON x.usuario_id = t.usuario_id ${WINDOW} ORDER BY t.criado_em`],
    ['a :report_date filter and a trailing semicolon', `${SELECT} ${WINDOW} AND :report_date::date > '2000-01-01' ORDER BY t.criado_em;`],
  ])('splits: %s', async (_, sql) => {
    const split = await splittableQuery(sql);
    expect(split.windowColumn.fields.at(-1)).toBe('criado_em');
  });

  it('finds the window column\'s table from its alias, its name, or the one table in FROM, and gives up on a CTE or a subquery', async () => {
    const one = (from: string, where: string) => `SELECT 1 AS a FROM ${from} WHERE ${where} >= :window_start AND ${where} < :window_end`;
    expect((await splittableQuery(one('app.transacoes', 'transacoes.criado_em'))).windowColumn.table).toEqual({ schema: 'app', name: 'transacoes' });
    expect((await splittableQuery(one('transacoes', 'criado_em'))).windowColumn.table).toEqual({ name: 'transacoes' });
    expect((await splittableQuery(one('"Eventos" e', 'e."Quando"'))).windowColumn).toEqual({ fields: ['e', 'Quando'], table: { name: 'Eventos' } });
    expect((await splittableQuery(one('transacoes t, usuarios u', 'criado_em'))).windowColumn.table).toBeUndefined();
    expect((await splittableQuery(`WITH c AS (SELECT * FROM transacoes) ${one('c', 'c.criado_em')}`)).windowColumn.table).toBeUndefined();
    expect((await splittableQuery(one('(SELECT * FROM transacoes) s', 'criado_em'))).windowColumn.table).toBeUndefined();
  });

  it('lists the plain function calls at the query\'s own level, for the catalog to say which are aggregates', async () => {
    const split = await splittableQuery(`SELECT upper(u.nome) AS n, sum(t.valor) AS s, (SELECT avg(1)) AS a FROM transacoes t JOIN usuarios u ON true ${WINDOW}`);
    expect(split.functionNames).toEqual(['upper', 'sum']);
  });

  it.each([
    ['LIMIT', `${SELECT} ${WINDOW} ORDER BY t.criado_em LIMIT 10`, /LIMIT, OFFSET or FETCH FIRST.* at line 2, column \d+ of report\.sql/],
    ['OFFSET', `${SELECT} ${WINDOW} OFFSET 5`, /LIMIT, OFFSET or FETCH FIRST/],
    ['FETCH FIRST', `${SELECT} ${WINDOW} FETCH FIRST 3 ROWS ONLY`, /LIMIT, OFFSET or FETCH FIRST/],
    ['DISTINCT', SELECT.replace('SELECT', 'SELECT DISTINCT') + ` ${WINDOW}`, /DISTINCT removes duplicates/],
    ['DISTINCT ON', SELECT.replace('SELECT', 'SELECT DISTINCT ON (t.usuario_id)') + ` ${WINDOW}`, /DISTINCT/],
    ['GROUP BY', `${SELECT} ${WINDOW} GROUP BY 1, 2, 3, 4, 5`, /GROUP BY combines rows/],
    ['an aggregate over the result', `SELECT count(*) AS n FROM transacoes t ${WINDOW}`, /the aggregate count\(\) combines rows.*line 1, column 8/],
    ['an aggregate with FILTER', `SELECT sum(valor) FILTER (WHERE valor > 0) AS n FROM transacoes t ${WINDOW}`, /the aggregate sum\(\)/],
    ['a window function', `SELECT row_number() OVER (ORDER BY t.id) AS n FROM transacoes t ${WINDOW}`, /window function row_number\(\)/],
    ['a window function in ORDER BY', `SELECT t.id FROM transacoes t ${WINDOW} ORDER BY t.criado_em, rank() OVER (ORDER BY t.id)`, /window function rank\(\)/],
    ['UNION', `${SELECT} ${WINDOW} UNION ${SELECT} ${WINDOW}`, /UNION of queries/],
    ['UNION ALL', `${SELECT} ${WINDOW} UNION ALL ${SELECT} ${WINDOW}`, /UNION ALL of queries/],
    ['an ORDER BY that starts elsewhere', `${SELECT} ${WINDOW} ORDER BY t.id, t.criado_em`, /ORDER BY does not start with the window column t\.criado_em/],
    ['an ORDER BY on an output column named like the window column', `SELECT t.id AS criado_em FROM transacoes t ${WINDOW} ORDER BY criado_em`, /ORDER BY does not start with the window column/],
    ['an ORDER BY descending', `${SELECT} ${WINDOW} ORDER BY t.criado_em DESC`, /sorts the window column DESC/],
    ['no window in the WHERE', `${SELECT} WHERE t.status = 'aprovada'`, /does not restrict one column to the window/],
    ['no WHERE at all', SELECT, /does not restrict one column to the window/],
    ['a closed window (BETWEEN)', `${SELECT} WHERE t.criado_em BETWEEN :window_start AND :window_end`, /:window_start is used other than as/],
    ['the window inside an OR', `${SELECT} WHERE (t.criado_em >= :window_start AND t.criado_em < :window_end) OR t.id = 1`, /:window_start is used other than/],
    ['the window in a subquery', `SELECT * FROM (${SELECT} ${WINDOW}) AS r`, /:window_start is used other than/],
    ['the window in the select list', `${SELECT.replace(':extracted_at', ':window_end')} ${WINDOW}`, /:window_end is used other than.*line 1, column 8 of report\.sql/],
    ['the two ends on different columns', `${SELECT} WHERE t.criado_em >= :window_start AND t.pago_em < :window_end`, /different columns \(t\.criado_em and t\.pago_em\)/],
    ['only one end', `${SELECT} WHERE t.criado_em >= :window_start`, /does not restrict one column/],
    ['now()', `${SELECT.replace(':extracted_at', 'now()')} ${WINDOW}`, /now\(\) is the time of each shard's own transaction.*Use :extracted_at/],
    ['current_timestamp in a subquery', `${SELECT} ${WINDOW} AND t.id IN (SELECT id FROM transacoes WHERE criado_em < current_timestamp)`, /CURRENT_TIMESTAMP is the time/],
    ['two statements', `${SELECT} ${WINDOW}; SELECT 1`, /not one SELECT statement/],
  ])('refuses %s with exit 2, naming the cause', async (_, sql, message) => {
    expect((await refusal(sql)).message).toMatch(message);
  });

  it('points at the line and column in the file as written, counting characters after accents and placeholders', async () => {
    const sql = `-- relatório diário, não é? :window_start\nSELECT 'ção' AS a, :report_date AS b\nFROM t WHERE t.c >= :window_start AND t.c < :window_end\nLIMIT 1`;
    expect((await refusal(sql)).message).toContain('at line 4, column 7 of report.sql');
  });
});
