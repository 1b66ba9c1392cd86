import { expect } from 'vitest';
import type { InProcessRun, StorageState } from '../support/publish-worlds.ts';
import { sha256 } from '../support/publish-worlds.ts';

/** What was there before the run under test: the previous complete pair, or nothing. */
export interface Previous {
  readonly csv: Buffer;
  readonly manifest: Record<string, any>;
}

/** A CSV that is one run's complete report: the header, exactly `rows` records, CRLF-terminated. */
export function isCompleteReport(bytes: Buffer, rows: number): boolean {
  const text = bytes.toString('utf8');
  if (!text.startsWith('data_extracao,nome_usuario,id_transacao,valor_transacao,status_transacao\r\n') || !text.endsWith('\r\n')) return false;
  return text.split('\r\n').length === rows + 2;
}

/**
 * I1: nothing under the final name but a complete report of one run (or the previous one).
 * I2: a manifest describes exactly the CSV beside it — bytes, sha256 and the object's identity.
 */
export function expectI1I2(state: StorageState, rows: number, previous: Previous | undefined, context: string): void {
  if (state.csv) {
    const complete = isCompleteReport(state.csv.bytes, rows) || (previous !== undefined && state.csv.bytes.equals(previous.csv));
    expect(complete, `${context}: I1 — the CSV under the final name is not a complete report (${state.csv.bytes.length} bytes)`).toBe(true);
  }
  if (state.manifest) {
    expect(state.csv, `${context}: I2 — a manifest without its CSV`).toBeDefined();
    expect(state.manifest.sha256, `${context}: I2 — the manifest's sha256 does not describe the CSV beside it`).toBe(sha256(state.csv!.bytes));
    expect(state.manifest.bytes, `${context}: I2 — bytes`).toBe(state.csv!.bytes.length);
    expect(state.manifest.object?.etag, `${context}: I2 — the manifest names another object than the CSV beside it`).toBe(state.csv!.etag);
  }
}

/** I5: what the run said (published, or an error) is what storage shows. */
export function expectI5(run: InProcessRun, state: StorageState, context: string): void {
  if (run.summary?.outcome === 'published') {
    expect(state.manifest?.run_id, `${context}: I5 — the run said "published" but the manifest is not its own`).toBe(run.runId);
  } else if (run.error !== undefined) {
    expect(state.manifest?.run_id, `${context}: I5 — the run failed (${String((run.error as Error).message)}) yet its manifest is published`).not.toBe(run.runId);
  }
}

/** A converged report: a complete pair, no lock, nothing left over. */
export function expectPublishedPair(state: StorageState, rows: number, context: string): void {
  expect(state.csv, `${context}: no CSV`).toBeDefined();
  expect(state.manifest, `${context}: no manifest`).toBeDefined();
  expect(isCompleteReport(state.csv!.bytes, rows), `${context}: the CSV is not complete`).toBe(true);
  expectI1I2(state, rows, undefined, context);
  expect(state.lock, `${context}: a lock is left behind`).toBeUndefined();
  expect(state.leftovers, `${context}: leftovers`).toEqual([]);
  expect(state.others, `${context}: other objects`).toEqual([]);
}
