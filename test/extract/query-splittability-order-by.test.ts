import { describe, expect, it } from 'vitest';
import { ExitCode, QueryIsInvalid } from '../../src/errors.ts';
import { splittableQuery } from '../../src/extract/query-splittability.ts';

// ORDER BY <bare name> sorts by the output column of that name when there is one (PostgreSQL looks
// at the select list first), so a bare window-column name in ORDER BY is the window column only
// when the output column so named is that column.
describe('an ORDER BY whose bare name is an output column', () => {
  it.each([
    ['an alias of another column', 'SELECT t.id, t.pedido_em AS criado_em FROM transacoes t WHERE criado_em >= :window_start AND criado_em < :window_end ORDER BY criado_em'],
    ['a quoted alias of another column', 'SELECT t.id AS "criado_em" FROM transacoes t WHERE criado_em >= :window_start AND criado_em < :window_end ORDER BY "criado_em"'],
    ['another table\'s column of that name', 'SELECT u.criado_em, t.id FROM transacoes t JOIN usuarios u ON u.id = t.usuario_id WHERE t.criado_em >= :window_start AND t.criado_em < :window_end ORDER BY criado_em'],
  ])('is refused when it is %s (shards in window order would not be rows in that order)', async (_, sql) => {
    const error = await splittableQuery(sql, 'report.sql').then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(QueryIsInvalid);
    expect((error as QueryIsInvalid).exitCode).toBe(ExitCode.invalidInput);
    expect((error as Error).message).toMatch(/ORDER BY does not start with the window column/);
  });

  it.each([
    ['the window column itself, implicitly named', 'SELECT t.criado_em, t.id FROM transacoes t WHERE t.criado_em >= :window_start AND t.criado_em < :window_end ORDER BY criado_em'],
    ['the window column under its own name', 'SELECT t.criado_em AS criado_em FROM transacoes t WHERE criado_em >= :window_start AND criado_em < :window_end ORDER BY criado_em'],
    ['an alias of the window column', 'SELECT t.criado_em AS quando FROM transacoes t WHERE t.criado_em >= :window_start AND t.criado_em < :window_end ORDER BY quando'],
  ])('is accepted when it is %s', async (_, sql) => {
    await expect(splittableQuery(sql)).resolves.toBeDefined();
  });
});
