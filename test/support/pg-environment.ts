/**
 * node-postgres reads PGSSLMODE, PGOPTIONS, PGAPPNAME, PGCONNECT_TIMEOUT, PGSSLNEGOTIATION … from
 * `process.env` for every setting a client config leaves out: a data engineer's shell exported for
 * production (`PGSSLMODE=verify-full`, `PGOPTIONS=-c default_transaction_read_only=on`) would then
 * reach the harness's own clients of the private server. The demo (without --use-env) and the test
 * runs drop them from the process before any client exists.
 */
export function forgetPgVariables(env: NodeJS.ProcessEnv = process.env): void {
  for (const name of Object.keys(env)) if (name.startsWith('PG')) delete env[name];
}
