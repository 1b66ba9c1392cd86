import type { ReportCompression } from '../config/config.ts';
import { compressedKey, keysInEveryCompression } from '../report/report-compression.ts';
import { reportKey } from '../report/report-key.ts';
import { manifestKey } from '../report/report-manifest.ts';
import type { ReportStorage } from '../storage/report-storage.ts';

/**
 * The dates whose report is published, each with the key it was found under, for `backfill
 * --missing-only`. Published = its manifest exists (it is written last). A report counts in any
 * compression: switching REPORT_COMPRESSION does not make every past day "missing" (rerunning
 * those is a plain `backfill`, which republishes them under the new key); the configured key is
 * asked first, so a day costs one request in the usual case.
 */
export async function publishedDates(
  storage: Pick<ReportStorage, 'exists'>,
  dates: readonly string[],
  where: { readonly keyTemplate: string; readonly compression: ReportCompression },
  signal: AbortSignal,
): Promise<Map<string, string>> {
  const published = new Map<string, string>();
  for (const date of dates) {
    const key = compressedKey(reportKey(where.keyTemplate, date), where.compression);
    for (const candidate of keysInEveryCompression(key, where.compression)) {
      if (await storage.exists(manifestKey(candidate), signal)) {
        published.set(date, candidate);
        break;
      }
    }
  }
  return published;
}
