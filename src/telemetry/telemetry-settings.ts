import type { TelemetryConfig } from '../config/config.ts';
import { defineSettings, duration, oneOf, text, url, type SettingsDomain } from '../config/setting.ts';

/**
 * Telemetry's own setting, and the standard OTEL_* ones the chart renders (read by the
 * OpenTelemetry SDK itself; listed here so they are documented and the chart is held to them).
 */

const ALL_COMMANDS = ['run', 'validate', 'backfill', 'notify'] as const;

export const TELEMETRY_SETTINGS = defineSettings({
  // main reads this one before anything else is loaded (telemetry outlives the configuration).
  TELEMETRY_FLUSH_TIMEOUT: duration({ min: '100ms', max: '1m', example: '5s', default: '5s', commands: ALL_COMMANDS, doc: 'Longest wait for spans and metrics to leave before exit.' }),
  OTEL_EXPORTER_OTLP_ENDPOINT: url({
    commands: ALL_COMMANDS, defaultDoc: '*(none: no telemetry)*',
    doc: 'OTLP/HTTP endpoint for traces and metrics (the other standard `OTEL_*` variables apply too); see Monitoring and alerts.',
  }),
  // The job ships the OTLP/HTTP exporters only: grpc would silently export nothing.
  OTEL_EXPORTER_OTLP_PROTOCOL: oneOf({ values: ['http/protobuf', 'http/json'], commands: ALL_COMMANDS, defaultDoc: '`http/protobuf`', doc: 'OTLP encoding (the job ships the OTLP/HTTP exporters; `grpc` is refused).' }),
  // Read by the SDK; declared so its value (often an Authorization token) is redacted like every secret.
  OTEL_EXPORTER_OTLP_HEADERS: text({ secret: true, commands: ALL_COMMANDS, form: 'key=value,…', defaultDoc: '*(none)*', doc: 'Headers sent with every export, e.g. `Authorization=Bearer …`.' }),
  OTEL_RESOURCE_ATTRIBUTES: text({ commands: ALL_COMMANDS, form: 'key=value,…', defaultDoc: '*(none)*', doc: 'Resource attributes on every span and metric (the chart sets the pod, Job and CronJob).' }),
  POD_NAME: text({ commands: ALL_COMMANDS, form: 'pod name', defaultDoc: '*(none)*', doc: 'Our pod, for `OTEL_RESOURCE_ATTRIBUTES`. Set by the chart from the downward API.' }),
});

export const telemetrySettings: SettingsDomain<typeof TELEMETRY_SETTINGS, TelemetryConfig> = {
  spec: TELEMETRY_SETTINGS,
  build: (v) => ({ flushTimeoutMs: v.TELEMETRY_FLUSH_TIMEOUT }),
};
