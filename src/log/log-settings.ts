import { LOG_FORMATS, LOG_LEVELS, type LogConfig } from '../config/config.ts';
import { defineSettings, oneOf, type SettingsDomain } from '../config/setting.ts';

const ALL_COMMANDS = ['run', 'validate', 'backfill', 'notify'] as const;

export const LOG_SETTINGS = defineSettings({
  LOG_LEVEL: oneOf({ values: LOG_LEVELS, default: 'info', commands: ALL_COMMANDS, doc: '`trace` … `fatal`, `silent`.' }),
  LOG_FORMAT: oneOf({ values: LOG_FORMATS, default: 'auto', commands: ALL_COMMANDS, doc: '`json`, `pretty`, or `auto` (pretty when stderr is a terminal).' }),
});

export const logSettings: SettingsDomain<typeof LOG_SETTINGS, LogConfig> = {
  spec: LOG_SETTINGS,
  build: (v) => ({ level: v.LOG_LEVEL, format: v.LOG_FORMAT }),
};
