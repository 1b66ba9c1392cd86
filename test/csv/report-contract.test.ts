import { describe, expect, it } from 'vitest';
import { planColumns } from '../../src/csv/report-contract.ts';
import { ReportContractViolated } from '../../src/errors.ts';

const columns = (...names: string[]) => names.map((name) => ({ name, dataTypeID: 25 }));
const contract = ['data_extracao', 'nome_usuario', 'id_transacao', 'valor_transacao', 'status_transacao'];

describe('report contract', () => {
  it('accepts exactly the five columns, in any order', () => {
    expect(planColumns(columns(...contract)).map((c) => c.sourceIndex)).toEqual([0, 1, 2, 3, 4]);
    expect(planColumns(columns(...[...contract].reverse())).map((c) => c.sourceIndex)).toEqual([4, 3, 2, 1, 0]);
  });

  it('names missing, unexpected and repeated columns, with expected and actual lists', () => {
    const violation = (names: string[]) => {
      try {
        planColumns(columns(...names));
      } catch (error) {
        expect(error).toBeInstanceOf(ReportContractViolated);
        expect((error as ReportContractViolated).exitCode).toBe(3);
        return (error as Error).message;
      }
      throw new Error('expected a violation');
    };
    expect(violation(contract.slice(0, 4))).toMatch(/missing status_transacao.*expected data_extracao, .*got data_extracao, nome_usuario, id_transacao, valor_transacao$/);
    expect(violation([...contract, 'email'])).toMatch(/unexpected email/);
    expect(violation([...contract.slice(0, 4), 'status'])).toMatch(/missing status_transacao; unexpected status/);
    expect(violation([...contract, 'nome_usuario'])).toMatch(/repeated nome_usuario/);
    expect(violation([])).toMatch(/got no columns/);
  });
});
