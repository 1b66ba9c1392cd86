import type { Writable } from 'node:stream';
import type { Config, StorageConfig } from '../config/config.ts';
import { ConfigurationIsInvalid, exitCodeOf, messageOf, ReportError, type ExitCode } from '../errors.ts';
import { loadConfig, type Env } from '../loader/load-config.ts';
import { bootstrapLoggerOptions, createLogger, type Logger } from '../log/logger.ts';
import type { ClusterOptions, ReportJobs } from '../ops/report-jobs.ts';
import type { ReportStorage } from '../storage/report-storage.ts';
import { SPAN } from '../telemetry/names.ts';
import { inSpan } from '../telemetry/spans.ts';

/** What a command needs from the process, passed in so commands are plain testable functions. */
export interface CommandContext {
  readonly env: Env;
  readonly stdout: Writable;
  /** Progress lines of the operations commands (a live line when it is a terminal). */
  readonly stderr?: Writable & { isTTY?: boolean };
  /** Aborted on SIGTERM/SIGINT. */
  readonly signal: AbortSignal;
  /** The clock; a test may fix it. */
  readonly now?: () => Date;
  /** Builds the storage adapter (the factory in storage/ unless a test wraps it). */
  readonly createStorage?: (config: StorageConfig) => Promise<ReportStorage>;
}

/**
 * The shape every command shares: a logger on stderr, the validated configuration, and every
 * failure logged once and mapped to its exit code.
 */
export async function withConfig(
  context: CommandContext,
  flags: { date?: string | undefined; problems?: readonly string[]; publishes?: boolean },
  body: (config: Config, logger: Logger) => Promise<ExitCode>,
  onFailure: (error: unknown) => void = () => undefined,
): Promise<ExitCode> {
  const logger = createLogger(bootstrapLoggerOptions(context.env));
  try {
    const config = await inSpan(SPAN.config, {}, async () => {
      const cli = flags.problems ?? [];
      try {
        const loaded = await loadConfig(context.env, { date: flags.date, signal: context.signal, now: context.now?.(), publishes: flags.publishes });
        if (cli.length > 0) throw new ConfigurationIsInvalid(cli, { phase: 'cli' });
        return loaded;
      } catch (error) {
        // Argument problems are listed with the environment's, in one message.
        if (cli.length > 0 && error instanceof ConfigurationIsInvalid && error.phase === 'config') throw new ConfigurationIsInvalid([...cli, ...error.problems]);
        throw error;
      }
    });
    for (const warning of config.warnings) logger.warn(warning);
    return await body(config, logger);
  } catch (error) {
    logFailure(logger, error);
    onFailure(error);
    return exitCodeOf(error);
  }
}

/**
 * Logs a failure once. One of ours is expected and needs no stack; anything else is a bug in the
 * job (exit 1, so Kubernetes retries), logged with its stack so it can be reported and fixed.
 */
export function logFailure(logger: Logger, error: unknown): void {
  if (error instanceof ReportError) logger.error({ err: error }, messageOf(error));
  else logger.error({ err: error, bug: true }, `unexpected error (a bug in daily-report: please report it with this log line and its stack): ${messageOf(error)}`);
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
    logFailure(logger, error);
    return exitCodeOf(error);
  }
}
