import { inject } from 'vitest';
import { PUBLISH_STEPS, type ProviderName, type PublishStep } from '../../src/publish/publish-steps.ts';
import { azureWorld, localWorld, s3World, type FaultKind, type World } from '../support/publish-worlds.ts';

/** The fault matrix's rows, generated from PUBLISH_STEPS; shared by the in-process and the SIGKILL suites. */

export const SMALL_ROWS = 40;
/** About 9 MB: two parts of 5 MiB. */
export const LARGE_ROWS = 70_000;
/** The report both sizes use: `pad` makes the names long enough for two 5 MiB parts. */
export const reportQuery = (rows: number, pad: number) => `
SELECT :extracted_at::timestamptz AS data_extracao, repeat('n', ${pad}) || g AS nome_usuario, g AS id_transacao,
       g * 0.01 AS valor_transacao, 'aprovada' AS status_transacao
FROM generate_series(1, ${rows}) AS g ORDER BY g`;

export type Size = 'one part' | 'multipart';
export type Prior = 'over an existing report' | 'over an empty key';

export interface MatrixCase {
  readonly provider: ProviderName;
  readonly step: PublishStep;
  readonly fault: FaultKind;
  readonly prior: Prior;
  readonly size: Size;
}

/** Every applicable (provider, step, fault, prior, size) — a step added to PUBLISH_STEPS adds its rows here. */
export function matrixCases(faults: readonly FaultKind[]): MatrixCase[] {
  const cases: MatrixCase[] = [];
  for (const provider of ['s3', 'azure', 'local'] as const) {
    for (const step of PUBLISH_STEPS as readonly PublishStep[]) {
      if (step.requests[provider] === undefined) continue;
      const sizes: Size[] = step.when === 'multipart' ? ['multipart'] : step.name === 'csv.publish' ? ['one part', 'multipart'] : ['one part'];
      const priors: Prior[] = step.when === 'over an existing report' ? ['over an existing report'] : ['over an existing report', 'over an empty key'];
      for (const fault of faults) for (const prior of priors) for (const size of sizes) cases.push({ provider, step, fault, prior, size });
    }
  }
  return cases;
}

const s3 = inject('s3');
const azurite = inject('azurite');

export async function newWorld(provider: ProviderName): Promise<World> {
  if (provider === 's3') return s3World((s3 as { url: string }).url);
  if (provider === 'azure') return azureWorld(azurite);
  return localWorld();
}

