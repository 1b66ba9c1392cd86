import { context, SpanStatusCode, trace, type Attributes, type Span } from '@opentelemetry/api';
import { redactSecrets } from '../config/redaction.ts';
import { exitCodeOf, messageOf, ReportError } from '../errors.ts';
import { ATTR, METRIC } from './names.ts';
import { meter, tracer } from './telemetry.ts';

/**
 * Runs `fn` inside a span named `name` (a child of the active one): on failure the span gets status
 * ERROR, the exception, the error class and the exit code; its duration is recorded per phase.
 */
export async function inSpan<T>(name: string, attributes: Attributes, fn: (span: Span) => Promise<T>): Promise<T> {
  return tracer().startActiveSpan(name, { attributes }, async (span) => {
    const started = performance.now();
    try {
      return await fn(span);
    } catch (error) {
      markFailed(span, error);
      throw error;
    } finally {
      endPhase(span, name, started);
    }
  });
}

/** `inSpan` as a child of `parent` (the run's root span) whatever span is active: a phase that runs inside another's code. */
export async function inSpanUnder<T>(parent: Span | undefined, name: string, attributes: Attributes, fn: (span: Span) => Promise<T>): Promise<T> {
  const parentContext = parent ? trace.setSpan(context.active(), parent) : context.active();
  return context.with(parentContext, () => inSpan(name, attributes, fn));
}

/** The same for synchronous work (loading the configuration). */
export function inSpanSync<T>(name: string, attributes: Attributes, fn: (span: Span) => T): T {
  return tracer().startActiveSpan(name, { attributes }, (span) => {
    const started = performance.now();
    try {
      return fn(span);
    } catch (error) {
      markFailed(span, error);
      throw error;
    } finally {
      endPhase(span, name, started);
    }
  });
}

/** A span that outlives the function that starts it (the extraction, which ends when the stream does), as a child of the active span. */
export function startPhase(name: string, attributes: Attributes): { span: Span; end(error?: unknown): void } {
  const span = tracer().startSpan(name, { attributes }, context.active());
  const started = performance.now();
  return {
    span,
    end(error?: unknown) {
      if (error !== undefined) markFailed(span, error);
      endPhase(span, name, started);
    },
  };
}

export function markFailed(span: Span, error: unknown): void {
  // Our errors' messages name hosts, keys and variables, not values; a driver's might quote one: redacted.
  const message = redactSecrets(messageOf(error));
  span.recordException({ name: error instanceof Error ? error.name : 'Error', message, stack: error instanceof Error && error.stack ? redactSecrets(error.stack) : undefined });
  span.setStatus({ code: SpanStatusCode.ERROR, message });
  const errorClass = error instanceof ReportError ? error.name : 'UnexpectedError';
  span.setAttributes({ [ATTR.errorClass]: errorClass, [ATTR.errorType]: errorClass, [ATTR.exitCode]: exitCodeOf(error) });
}

function endPhase(span: Span, name: string, started: number): void {
  span.end();
  meter().createHistogram(METRIC.phaseDuration, { unit: 's', description: 'Duration of each phase of a run' }).record((performance.now() - started) / 1000, { [ATTR.phase]: name });
}
