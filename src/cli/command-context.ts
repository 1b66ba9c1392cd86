import { readFileSync } from 'node:fs';
import type { Writable } from 'node:stream';
import type { Config } from '../config/config.ts';
import { loadConfig } from '../config/load-config.ts';
import type { Env } from '../config/secret-files.ts';
import { ConfigurationIsInvalid, exitCodeOf, messageOf, type ExitCode } from '../errors.ts';
import { bootstrapLoggerOptions, createLogger, type Logger } from '../log/logger.ts';
import type { ClusterOptions, ReportJobs } from '../ops/report-jobs.ts';
import { SPAN } from '../telemetry/names.ts';
import { inSpanSync } from '../telemetry/spans.ts';

/** What a command needs from the process, passed in so commands are plain testable functions. */
export interface CommandContext {
  readonly env: Env;
  readonly stdout: Writable;
  /** Progress lines of the operations commands (a live line when it is a terminal). */
  readonly stderr?: Writable & { isTTY?: boolean };
  /** Aborted on SIGTERM/SIGINT. */
  readonly signal: AbortSignal;
}

/**
 * The shape every command shares: a logger on stderr, the validated configuration, and every
 * failure logged once and mapped to its exit code.
 */
export async function withConfig(
  context: CommandContext,
  flags: { date?: string | undefined },
  body: (config: Config, logger: Logger) => Promise<ExitCode>,
  onFailure: (error: unknown) => void = () => undefined,
): Promise<ExitCode> {
  const logger = createLogger(bootstrapLoggerOptions(context.env));
  try {
    const config = inSpanSync(SPAN.config, {}, () => loadConfig(context.env, { date: flags.date, readTextFile: (path) => readFileSync(path, 'utf8') }));
    for (const warning of config.warnings) logger.warn(warning);
    return await body(config, logger);
  } catch (error) {
    logger.error({ err: error }, messageOf(error));
    onFailure(error);
    return exitCodeOf(error);
  }
}

/**
 * The shape of the operations commands (rerun, backfill, status): arguments checked before
 * anything is contacted, then the cluster from the kubeconfig; failures logged once and mapped.
 */
export async function withCluster(
  context: CommandContext,
  flags: ClusterOptions & { problems: readonly string[] },
  body: (jobs: ReportJobs, logger: Logger) => Promise<ExitCode>,
): Promise<ExitCode> {
  const logger = createLogger(bootstrapLoggerOptions(context.env));
  try {
    if (flags.problems.length > 0) throw new ConfigurationIsInvalid(flags.problems, { phase: 'cli' });
    // Loaded here, not at start-up: the Kubernetes client costs the nightly run ~70 MB of RSS it never uses.
    const { ReportJobs } = await import('../ops/report-jobs.ts');
    return await body(ReportJobs.fromKubeconfig(flags), logger);
  } catch (error) {
    logger.error({ err: error }, messageOf(error));
    return exitCodeOf(error);
  }
}
