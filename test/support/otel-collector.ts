import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort, stopChild } from './child-processes.ts';

/**
 * A real OpenTelemetry Collector (built by test/tools/build-tools.sh with ocb): OTLP over HTTP in,
 * every request written as a JSON line to a file the tests read.
 */
const ROOT = resolve(import.meta.dirname, '../..');
const BINARY = join(ROOT, '.tools/bin/otelcol-test');

export type CollectorAvailability = { endpoint: string; output: string } | { skipped: string };

export function ensureCollector(log: (line: string) => void): true | string {
  if (spawnSync('go', ['version']).error) return 'Go is not installed, so the OpenTelemetry Collector cannot be built (install Go ≥ 1.26)';
  log('OpenTelemetry Collector: test/tools/build-tools.sh otelcol (seconds when cached in .tools/bin; the first build on a machine 1–11 min)');
  const build = spawnSync('bash', [join(ROOT, 'test/tools/build-tools.sh'), 'otelcol'], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (build.status !== 0 || !existsSync(BINARY)) throw new Error(`building the collector failed (exit ${build.status})`);
  return true;
}

export async function startCollector(): Promise<{ endpoint: string; output: string; stop(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'daily-report-otelcol-'));
  const port = await freePort();
  const output = join(dir, 'received.jsonl');
  writeFileSync(
    join(dir, 'config.yaml'),
    [
      'receivers:',
      '  otlp:',
      '    protocols:',
      '      http:',
      `        endpoint: 127.0.0.1:${port}`,
      'exporters:',
      '  file:',
      `    path: ${output}`,
      '    flush_interval: 50ms',
      'service:',
      '  telemetry:',
      '    metrics:',
      '      level: none',
      '  pipelines:',
      '    traces: { receivers: [otlp], exporters: [file] }',
      '    metrics: { receivers: [otlp], exporters: [file] }',
      '',
    ].join('\n'),
  );
  const child = spawn(BINARY, ['--config', join(dir, 'config.yaml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  for (let i = 0; ; i++) {
    if (stderr.includes('Everything is ready')) break;
    if (child.exitCode !== null || i > 300) throw new Error(`the collector did not start: ${stderr.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    endpoint: `http://127.0.0.1:${port}`,
    output,
    async stop() {
      await stopChild(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  attributes: Record<string, unknown>;
  status: { code?: number; message?: string };
  events: { name: string; attributes: Record<string, unknown> }[];
  resource: Record<string, unknown>;
}

export interface ReceivedMetric {
  name: string;
  points: { attributes: Record<string, unknown>; value: number }[];
  resource: Record<string, unknown>;
}

type KeyValue = { key: string; value: Record<string, unknown> };
const valueOf = (v: Record<string, any>): unknown =>
  v.stringValue ??
  (v.intValue !== undefined ? Number(v.intValue) : undefined) ??
  v.doubleValue ??
  v.boolValue ??
  (v.arrayValue !== undefined ? ((v.arrayValue.values ?? []) as Record<string, any>[]).map(valueOf) : undefined);
const attributesOf = (list: KeyValue[] | undefined) => Object.fromEntries((list ?? []).map((a) => [a.key, valueOf(a.value)]));

/** Everything the collector wrote so far, whose resource has `test.id` = `testId`. */
export function received(output: string, testId: string): { spans: ReceivedSpan[]; metrics: ReceivedMetric[] } {
  const spans: ReceivedSpan[] = [];
  const metrics: ReceivedMetric[] = [];
  // Only complete lines: the exporter may be writing the last one as we read.
  const lines = existsSync(output) ? readFileSync(output, 'utf8').split('\n').slice(0, -1).filter(Boolean) : [];
  for (const line of lines) {
    const request = JSON.parse(line);
    for (const rs of request.resourceSpans ?? []) {
      const resource = attributesOf(rs.resource?.attributes);
      if (resource['test.id'] !== testId) continue;
      for (const ss of rs.scopeSpans ?? []) {
        for (const s of ss.spans ?? []) {
          spans.push({
            traceId: s.traceId,
            spanId: s.spanId,
            parentSpanId: s.parentSpanId ?? '',
            name: s.name,
            attributes: attributesOf(s.attributes),
            status: s.status ?? {},
            events: (s.events ?? []).map((e: any) => ({ name: e.name, attributes: attributesOf(e.attributes) })),
            resource,
          });
        }
      }
    }
    for (const rm of request.resourceMetrics ?? []) {
      const resource = attributesOf(rm.resource?.attributes);
      if (resource['test.id'] !== testId) continue;
      for (const sm of rm.scopeMetrics ?? []) {
        for (const m of sm.metrics ?? []) {
          const data = m.sum ?? m.gauge ?? m.histogram;
          const points = (data?.dataPoints ?? []).map((p: any) => ({
            attributes: attributesOf(p.attributes),
            value: Number(p.asInt ?? p.asDouble ?? p.sum ?? p.count ?? 0),
          }));
          metrics.push({ name: m.name, points, resource });
        }
      }
    }
  }
  return { spans, metrics };
}
