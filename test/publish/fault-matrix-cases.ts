import { inject } from 'vitest';
import { PUBLISH_STEPS, type ProviderName, type PublishStep } from '../../src/publish/publish-steps.ts';
import { azureWorld, localWorld, s3World, type FaultKind, type World } from '../support/publish-worlds.ts';
import { queryFile } from '../support/report-files.ts';
import { s3Servers } from '../support/s3-servers.ts';

/** The fault matrix's rows, generated from PUBLISH_STEPS; shared by the in-process and the SIGKILL suites. */

export const SMALL_ROWS = 40;
/** About 9 MB: two parts of 5 MiB. */
export const LARGE_ROWS = 70_000;
/**
 * The report both sizes use: `pad` makes the names long enough for two 5 MiB parts. With
 * `pauseSeconds`, the database takes that long before the first row (a slow sort, a long holder).
 */
export const reportQuery = (rows: number, pad: number, pauseSeconds = 0) => `
SELECT :extracted_at::timestamptz AS data_extracao, repeat('n', ${pad}) || g AS nome_usuario, g AS id_transacao,
       g * 0.01 AS valor_transacao, 'aprovada' AS status_transacao
FROM generate_series(1, ${rows}) AS g${pauseSeconds > 0 ? ` CROSS JOIN (SELECT pg_sleep(${pauseSeconds})) AS pause` : ''} ORDER BY g`;

/**
 * The same rows as `reportQuery`, in the same order, each at its own instant of the report's window
 * (2024-10-04 in São Paulo), so that a parallel run splits them by sub-window.
 */
export const windowedReportQuery = (rows: number, pad: number) => `
SELECT :extracted_at::timestamptz AS data_extracao, repeat('n', ${pad}) || g AS nome_usuario, g AS id_transacao,
       g * 0.01 AS valor_transacao, 'aprovada' AS status_transacao
FROM generate_series(1, ${rows}) AS g
CROSS JOIN LATERAL (SELECT timestamptz '2024-10-04 00:00:00-03' + (g - 1) * (interval '24 hours' / ${rows}) AS criado_em) AS t
WHERE t.criado_em >= :window_start::timestamptz AND t.criado_em < :window_end::timestamptz
ORDER BY t.criado_em`;

export type Size = 'one part' | 'multipart';
export const ROWS_OF: Record<Size, number> = { 'one part': SMALL_ROWS, multipart: LARGE_ROWS };

/** The query file of each size in `dir` (`windowed`: the rows spread over the window, for parallel runs). */
export async function sizedQueryFiles(dir: string, windowed = false): Promise<Record<Size, string>> {
  const query = windowed ? windowedReportQuery : reportQuery;
  const suffix = windowed ? '-windowed' : '';
  return { 'one part': await queryFile(dir, `small${suffix}`, query(SMALL_ROWS, 5)), multipart: await queryFile(dir, `large${suffix}`, query(LARGE_ROWS, 80)) };
}
export type Prior = 'over an existing report' | 'over an empty key';

/**
 * A place the matrix publishes to: the provider (whose PUBLISH_STEPS requests the faults aim at)
 * on one server. S3 runs on moto and on MinIO; `strict` says the server enforces conditional
 * writes atomically and verifies checksums, so a test asserts the strict outcome there.
 */
export type WorldName = 's3-moto' | 's3-minio' | 'azure' | 'local';
export interface WorldSpec {
  readonly name: WorldName;
  readonly provider: ProviderName;
  readonly strict: boolean;
  /** The server's URL (S3). */
  readonly url?: string;
}

/** Every world, whether its server is up in this run or not: the matrix's full size. */
export const ALL_WORLDS: readonly WorldName[] = ['s3-moto', 's3-minio', 'azure', 'local'];

/**
 * The worlds of this run: Azure and local always, S3 on each S3 server that is up (a server that
 * is not is announced loudly by global-setup, and refused under CI=true, so its rows are simply
 * not registered — CI counts a skipped test as a failure).
 */
export function worldsOfThisRun(): WorldSpec[] {
  const s3 = s3Servers().flatMap((server): WorldSpec[] =>
    'url' in server ? [{ name: `s3-${server.name}`, provider: 's3', strict: server.strict, url: server.url }] : [],
  );
  // Azurite enforces its conditions atomically; local storage's lock is a hard link.
  return [...s3, { name: 'azure', provider: 'azure', strict: true }, { name: 'local', provider: 'local', strict: true }];
}

export interface MatrixCase {
  readonly world: WorldSpec;
  readonly provider: ProviderName;
  readonly step: PublishStep;
  readonly fault: FaultKind;
  readonly prior: Prior;
  readonly size: Size;
}

const providerOf = (name: WorldName): ProviderName => (name.startsWith('s3-') ? 's3' : (name as ProviderName));

/** Every applicable (world, step, fault, prior, size) — a step added to PUBLISH_STEPS adds its rows here. */
export function matrixCases(faults: readonly FaultKind[], worlds: readonly WorldSpec[]): MatrixCase[] {
  const cases: MatrixCase[] = [];
  for (const world of worlds) {
    const provider = world.provider;
    for (const step of PUBLISH_STEPS as readonly PublishStep[]) {
      if (step.requests[provider] === undefined) continue;
      const sizes: Size[] = step.when === 'multipart' ? ['multipart'] : step.name === 'csv.publish' ? ['one part', 'multipart'] : ['one part'];
      const priors: Prior[] = step.when === 'over an existing report' ? ['over an existing report'] : ['over an existing report', 'over an empty key'];
      for (const fault of faults) for (const prior of priors) for (const size of sizes) cases.push({ world, provider, step, fault, prior, size });
    }
  }
  return cases;
}

/**
 * The parallel dimension (REPORT_PARALLELISM=4), a representative subset: every step on every
 * world, with a persistent 5xx and with SIGTERM, over an existing report (the start that has the
 * most to lose), multipart where the step has it (segments then cross part boundaries).
 */
export function parallelCases(worlds: readonly WorldSpec[]): MatrixCase[] {
  return matrixCases(['persistent 5xx', 'SIGTERM while held'], worlds).filter(
    (c) => c.prior === 'over an existing report' && (c.size === 'multipart' || c.step.name !== 'csv.publish'),
  );
}

/** The matrix over every world (up or not): the size docs/publishing.md quotes. */
export function fullMatrixSize(faults: readonly FaultKind[]): number {
  return matrixCases(faults, ALL_WORLDS.map((name) => ({ name, provider: providerOf(name), strict: true }))).length;
}

const azurite = inject('azurite');

export async function newWorld(world: WorldSpec): Promise<World> {
  if (world.provider === 's3') return s3World(world.url!);
  if (world.provider === 'azure') return azureWorld(azurite);
  return localWorld();
}
