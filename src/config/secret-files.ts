/**
 * The `X_FILE` convention: a setting can come from a mounted file (a Kubernetes Secret) instead
 * of the environment. `X_FILE` holds the path; setting both `X` and `X_FILE` is an error, because
 * silently preferring one hides a misconfigured deployment.
 */

/** Settings that may come from files. The PG* set matches what database operators put in Secrets. */
export const FILE_VARIABLES = ['PGHOST', 'PGPORT', 'PGDATABASE', 'PGUSER', 'PGPASSWORD', 'AZURE_STORAGE_CONNECTION_STRING', 'ALERT_WEBHOOK_URL'] as const;

export type Env = Readonly<Record<string, string | undefined>>;
export type ReadTextFile = (path: string) => string;

/**
 * The environment with every `X_FILE` resolved into `X`. Problems are appended to `problems`;
 * a file's content is never quoted in them (it may be a secret).
 */
export function resolveFileVariables(env: Env, readTextFile: ReadTextFile, problems: string[]): Record<string, string | undefined> {
  const resolved: Record<string, string | undefined> = { ...env };
  for (const name of FILE_VARIABLES) {
    const path = env[`${name}_FILE`];
    if (path === undefined || path === '') continue;
    if (env[name] !== undefined && env[name] !== '') {
      problems.push(`${name} and ${name}_FILE are both set: keep only one (${name}_FILE is meant for mounted Secrets)`);
      continue;
    }
    try {
      // A trailing newline is almost always an artefact of `echo secret > file`, never part of it.
      resolved[name] = readTextFile(path).replace(/\r?\n$/, '');
      // An empty file is a Secret key mounted without a value: say so, not "set X or X_FILE" later.
      if (resolved[name] === '') problems.push(`${name}_FILE: ${path} is empty; put the secret in it (is the Secret's key empty?) or unset ${name}_FILE`);
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code ?? 'unreadable';
      problems.push(`${name}_FILE: cannot read ${path} (${reason}); mount the Secret there or unset ${name}_FILE`);
    }
  }
  return resolved;
}
