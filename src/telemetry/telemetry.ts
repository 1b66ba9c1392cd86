import { metrics, trace, type Meter, type Tracer } from '@opentelemetry/api';
import { VERSION } from '../version.ts';

/**
 * OpenTelemetry for one run: traces and metrics over OTLP/HTTP, configured only by the standard
 * OTEL_* variables. Without an endpoint (or with OTEL_SDK_DISABLED=true) nothing starts, nothing
 * is exported and nothing is printed: the API stays a no-op.
 */
export interface Telemetry {
  readonly enabled: boolean;
  /**
   * Exports what is buffered and stops; never takes longer than `timeoutMs`, never throws. False
   * when the bound cut it short (an export may still hold a socket open: the caller exits anyway).
   */
  shutdown(timeoutMs: number): Promise<boolean>;
}

export const tracer = (): Tracer => trace.getTracer('daily-report', VERSION);
export const meter = (): Meter => metrics.getMeter('daily-report', VERSION);

export async function startTelemetry(env: Readonly<Record<string, string | undefined>>): Promise<Telemetry> {
  const endpoint = env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT;
  if (!endpoint || env.OTEL_SDK_DISABLED?.toLowerCase() === 'true') return { enabled: false, shutdown: async () => true };

  // Loaded only when exporting: a run without telemetry does not pay for the SDK's start-up.
  const [{ OTLPMetricExporter: OTLPMetricExporterJson }, { OTLPMetricExporter: OTLPMetricExporterProto }, { OTLPTraceExporter: OTLPTraceExporterJson }, { OTLPTraceExporter: OTLPTraceExporterProto }] =
    await Promise.all([
      import('@opentelemetry/exporter-metrics-otlp-http'),
      import('@opentelemetry/exporter-metrics-otlp-proto'),
      import('@opentelemetry/exporter-trace-otlp-http'),
      import('@opentelemetry/exporter-trace-otlp-proto'),
    ]);
  const [{ resourceFromAttributes }, { PeriodicExportingMetricReader }, { NodeSDK }, { BatchSpanProcessor }] = await Promise.all([
    import('@opentelemetry/resources'),
    import('@opentelemetry/sdk-metrics'),
    import('@opentelemetry/sdk-node'),
    import('@opentelemetry/sdk-trace'),
  ]);
  const json = (env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL) === 'http/json';
  const jsonMetrics = (env.OTEL_EXPORTER_OTLP_METRICS_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL) === 'http/json';
  const sdk = new NodeSDK({
    // service.name from OTEL_SERVICE_NAME when set; OTEL_RESOURCE_ATTRIBUTES (the chart's k8s.* values) are merged by the SDK.
    resource: resourceFromAttributes({ 'service.name': env.OTEL_SERVICE_NAME || 'daily-report', 'service.version': VERSION }),
    spanProcessors: [new BatchSpanProcessor({ exporter: json ? new OTLPTraceExporterJson() : new OTLPTraceExporterProto() })],
    metricReaders: [
      // One push at the end of the run (shutdown flushes); the interval only matters for runs longer than an hour.
      new PeriodicExportingMetricReader({ exporter: jsonMetrics ? new OTLPMetricExporterJson() : new OTLPMetricExporterProto(), exportIntervalMillis: 3_600_000 }),
    ],
    instrumentations: [],
  });
  sdk.start();
  return {
    enabled: true,
    async shutdown(timeoutMs) {
      let timer: NodeJS.Timeout | undefined;
      // A receiver that is down or black-holes connections must not change the outcome or delay exit beyond the bound.
      const finished = await Promise.race([
        sdk.shutdown().then(
          () => true,
          () => true,
        ),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(false), timeoutMs);
          timer.unref();
        }),
      ]);
      clearTimeout(timer);
      return finished;
    },
  };
}
