import type { DatabaseConfig } from '../config/config.ts';
import {
  AccessWasDenied,
  ConfigurationIsInvalid,
  isCertificateError,
  QueryIsInvalid,
  ReportDataIsInvalid,
  ReportError,
  TransientFailure,
  type Phase,
} from '../errors.ts';
import { databaseLabel, passwordHint } from './pg-client-config.ts';
import { positionInQuery, type SentStatement } from './query-position.ts';

/**
 * Turns whatever node-postgres or the socket threw into one of the product's errors, so that the
 * exit code says whether a retry can help. SQLSTATE classes follow PostgreSQL's Appendix A.
 */
export function classifyDatabaseError(error: unknown, phase: Phase, db: DatabaseConfig, statement?: SentStatement): ReportError {
  if (error instanceof ReportError) return error;
  const e = error as { code?: string; message?: string; position?: string; detail?: string; hint?: string };
  const sqlState = typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code) ? e.code : undefined;
  const where = databaseLabel(db);
  const message = e.message ?? String(error);
  const options = { phase, cause: error, context: { database: where, sqlState } };

  if (sqlState) {
    // PostgreSQL's DETAIL and HINT often say exactly what to fix ("Perhaps you meant to reference the column u.nome").
    const detail = `${message} (SQLSTATE ${sqlState})${e.detail ? `. DETAIL: ${e.detail}` : ''}${e.hint ? `. HINT: ${e.hint}` : ''}`;
    const cls = sqlState.slice(0, 2);
    if (cls === '28') return new AccessWasDenied(`database ${where} refused user "${db.user}": ${detail}${db.passFile === undefined ? '' : db.password === undefined ? ` (PGPASSFILE has no line for it: ${passwordHint(db)})` : ` (its password is from PGPASSFILE: ${passwordHint(db)})`}`, options);
    if (sqlState === '42501') return new AccessWasDenied(`user "${db.user}" lacks a privilege on ${where}: ${detail}`, options);
    if (sqlState === '3D000') return new ConfigurationIsInvalid([`${db.service === undefined ? 'PGDATABASE' : `PGSERVICEFILE: service [${db.service}] dbname`}: ${detail} on ${db.host}:${db.port}`], options);
    if (phase === 'connect' && cls === '22') return new ConfigurationIsInvalid([`the database rejected a session setting: ${detail}`], options);
    if (sqlState === '57014') {
      return new TransientFailure(`the query was cancelled on ${where}, usually by statement_timeout (REPORT_STATEMENT_TIMEOUT): ${detail}`, options);
    }
    if (['08', '40', '53', '57', '58'].includes(cls) || sqlState === '25P03' || sqlState === '55P03') {
      return new TransientFailure(`database ${where} failed transiently: ${detail}`, options);
    }
    const inFile = e.position && statement ? positionInQuery(Number(e.position), statement) : undefined;
    const at = inFile ? ` at ${inFile}` : e.position ? ` at character ${e.position} of the statement sent` : '';
    // Raised while planning too (a constant that does not cast: `status = 'a' + 1`), which validate
    // meets without reading a row: name the place in the file when PostgreSQL gives one.
    if (cls === '22') return new ReportDataIsInvalid(`the database raised a data error on the report query${at}: ${detail}`, options);
    if (cls === '42' || cls === '0A' || cls === '25' || cls === '26' || cls === '34') {
      return new QueryIsInvalid(`the report query cannot run${at}: ${detail} — fix REPORT_SQL_FILE`, options);
    }
    return new TransientFailure(`database ${where} failed: ${detail}`, options);
  }

  const code = e.code ?? '';
  if (isCertificateError(error) || /certificate/i.test(message)) {
    return new AccessWasDenied(
      `TLS verification of ${db.host}:${db.port} failed (${code || message}); check PGSSLROOTCERT and PGSSLMODE=${db.sslMode}`,
      options,
    );
  }
  if (/does not support SSL/i.test(message)) {
    return new ConfigurationIsInvalid([`PGSSLMODE=${db.sslMode}: ${db.host}:${db.port} does not support TLS connections`], options);
  }
  if (/client password must be a string|password authentication/i.test(message)) {
    return new AccessWasDenied(`database ${where} asks user "${db.user}" for a password: ${passwordHint(db)}`, options);
  }
  return new TransientFailure(`cannot reach database ${where}: ${message}${code && !message.includes(code) ? ` (${code})` : ''}`, options);
}

/** No answer within PGCONNECT_TIMEOUT (node-postgres then reports only "Connection terminated unexpectedly"). */
export function connectTimedOut(error: unknown, db: DatabaseConfig): ReportError {
  return new TransientFailure(
    `database ${databaseLabel(db)} did not complete the connection within PGCONNECT_TIMEOUT=${db.connectTimeoutMs / 1000} s: `
      + 'check PGHOST and PGPORT, and that no firewall drops the packets (raise PGCONNECT_TIMEOUT for a slow link)',
    { phase: 'connect', cause: error, context: { database: databaseLabel(db) } },
  );
}
