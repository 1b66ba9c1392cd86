import { basename, dirname, resolve } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { ExitCode, ReportError } from '../errors.ts';
import { createReportSources } from '../extract/report-sources.ts';
import { notify } from '../alerts/notify.ts';
import type { AlertsConfig } from '../config/config.ts';
import { loadAlertsConfig } from '../loader/load-config.ts';
import { bootstrapLoggerOptions, createLogger } from '../log/logger.ts';
import { CONTENT_TYPE, runReport, type DryRunSink, type RunSummary } from '../report/run-report.ts';
import { todayIn } from '../report/report-window.ts';
import { writeToStream } from '../report/write-to-stream.ts';
import { createStorage } from '../storage/create-storage.ts';
import { LocalStorage } from '../storage/local-storage.ts';
import { ATTR, SPAN } from '../telemetry/names.ts';
import { recordRunMetrics, type RunOutcome } from '../telemetry/run-metrics.ts';
import { markFailed } from '../telemetry/spans.ts';
import { tracer } from '../telemetry/telemetry.ts';
import { withConfig, type CommandContext } from './command-context.ts';
import { dateOption, type CommandDone } from './options.ts';

export interface RunArgs {
  readonly date?: string | undefined;
  readonly dryRun?: boolean | undefined;
  readonly out?: string | undefined;
}

/** `daily-report run`: extract, encode and publish one day's report. */
export async function runCommand(args: RunArgs, context: CommandContext): Promise<ExitCode> {
  // One root span per run; every phase is its child, and its status is the run's.
  return tracer().startActiveSpan(SPAN.run, async (root) => {
    let outcome: RunOutcome = { outcome: 'failed' };
    let failure: unknown;
    let reportDate: string | null = args.date ?? context.env.REPORT_DATE ?? null;
    let summary: RunSummary | undefined;
    let alerts: AlertsConfig | undefined;
    // Silently ignoring --out would publish the real report where a dry run was meant.
    const problems = args.out !== undefined && !args.dryRun ? ['--out: only applies with --dry-run (add --dry-run, or drop --out to publish)'] : [];
    // `--out` with nothing after it reads as "" and would quietly mean stdout: a path was meant.
    if (args.out === '' && args.dryRun) problems.push('--out: needs a file path, or - for stdout (got nothing)');
    try {
      const code = await withConfig(
        context,
        { date: args.date, problems, publishes: !args.dryRun },
        async (config, logger) => {
          alerts = config.alerts;
          reportDate = config.report.date ?? todayIn(config.report.timezone, new Date());
          summary = await runReport({
            config,
            sources: createReportSources(config, logger),
            storage: await createStorage(config.storage),
            logger,
            signal: context.signal,
            dryRun: args.dryRun ? dryRunSink(args.out, context) : undefined,
            span: root,
          });
          outcome = { outcome: summary.outcome, reportDate: summary.reportDate, rows: summary.rows, bytes: summary.bytes };
          return ExitCode.ok;
        },
        (error) => {
          failure = error;
          markFailed(root, error);
          outcome = { outcome: 'failed', errorClass: error instanceof ReportError ? error.name : 'UnexpectedError' };
        },
      );
      root.setAttribute(ATTR.exitCode, code);
      recordRunMetrics(outcome);
      if (!args.dryRun) {
        const traceId = root.spanContext().traceId;
        const logger = createLogger(bootstrapLoggerOptions(context.env));
        // When the configuration failed, the alert settings alone may still be valid.
        alerts ??= await loadAlertsConfig(context.env, { signal: context.signal }).catch((error: unknown) => {
          logger.warn({ err: error }, 'alerts: not sent, their own settings are invalid');
          return undefined;
        });
        await notify(
          {
            exitCode: code,
            error: failure,
            reportDate,
            key: summary?.key,
            rows: summary?.rows,
            bytes: summary?.bytes,
            skipped: summary?.outcome === 'skipped',
            traceId: /^0+$/.test(traceId) ? null : traceId,
          },
          alerts,
          logger,
        );
      }
      return code;
    } finally {
      root.end();
    }
  });
}

function dryRunSink(out: string | undefined, context: CommandContext): DryRunSink {
  if (out === undefined || out === '-') {
    return { location: 'stdout', write: (body, signal) => writeToStream(body, context.stdout, signal) };
  }
  // A file is written the way the local provider publishes: whole, or not at all.
  const path = resolve(out);
  const folder = new LocalStorage(dirname(path));
  return {
    location: path,
    write: async (body, signal) => {
      await folder.write(basename(path), body, { signal, ifExists: 'overwrite', contentType: CONTENT_TYPE, metadata: {} });
    },
  };
}

export function runCommandModule(context: CommandContext, done: CommandDone): CommandModule<object, RunArgs> {
  return {
    command: 'run',
    describe: "Extract the day's rows, write the CSV and publish it",
    builder: (yargs: Argv) =>
      dateOption(yargs)
        .option('dry-run', { type: 'boolean', default: false, describe: 'Write the CSV to --out and publish nothing' })
        .option('out', { type: 'string', describe: 'With --dry-run: a file path, or - for stdout (the default)' })
        .example('$0 run', "publish today's report (it covers the previous full day)")
        .example('$0 run --date 2024-10-05', 'publish relatorio_20241005.csv (rows of 2024-10-04) again')
        .example('$0 run --dry-run > report.csv', 'see the CSV without publishing anything')
        .example('$0 run --dry-run --out /tmp/r.csv --date 2024-10-05', 'write a past report to a file'),
    handler: async (argv) => done(await runCommand(argv, context)),
  };
}
