import type { StorageConfig } from '../config/config.ts';
import { LocalStorage } from './local-storage.ts';
import type { ReportStorage } from './report-storage.ts';

/** The one place a provider is chosen; the pipeline only ever sees `ReportStorage`. */
export function createStorage(config: StorageConfig): ReportStorage {
  switch (config.provider) {
    case 'local':
      return new LocalStorage(config.dir);
  }
}
