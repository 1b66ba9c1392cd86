import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort, stopChild } from './child-processes.ts';

/**
 * A real Kubernetes API server on 127.0.0.1: etcd and kube-apiserver built from their Go modules
 * (test/tools/build-tools.sh, cached in .tools/bin). No controllers and no kubelet run: CronJobs
 * never fire and pods never start, so tests assert what the API server decides — validation,
 * defaulting, admission (Pod Security), RBAC — and set Job status themselves where needed.
 */

const ROOT = resolve(import.meta.dirname, '../..');
const BIN = join(ROOT, '.tools/bin');

export interface KubeCluster {
  /** URL of the API server. */
  server: string;
  /** A kubeconfig file for a cluster admin (system:masters). */
  kubeconfig: string;
  stop(): Promise<void>;
}

export type ClusterAvailability = { kubeconfig: string; server: string } | { skipped: string };

/** Builds (or finds cached) kube-apiserver and etcd; a reason string when this machine cannot. */
export function ensureClusterBinaries(log: (line: string) => void): true | string {
  if (spawnSync('go', ['version']).error) return 'Go is not installed, so kube-apiserver and etcd cannot be built (install Go ≥ 1.26)';
  log('kube-apiserver and etcd: test/tools/build-tools.sh kube (seconds when cached in .tools/bin; the first build on a machine 5–12 min)');
  const build = spawnSync('bash', [join(ROOT, 'test/tools/build-tools.sh'), 'kube'], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (build.status !== 0) throw new Error(`test/tools/build-tools.sh failed with exit ${build.status}`);
  return true;
}

export async function startKubeCluster(log: (line: string) => void): Promise<KubeCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'daily-report-kube-'));
  const [etcdClient, etcdPeer, apiPort] = await Promise.all([freePort(), freePort(), freePort()]);
  const children: ChildProcess[] = [];
  const stop = async () => {
    for (const child of children.reverse()) await stopChild(child);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const etcdUrl = `http://127.0.0.1:${etcdClient}`;
    children.push(
      startProcess('etcd', join(BIN, 'etcd'), [
        `--data-dir=${join(dir, 'etcd')}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
        `--initial-cluster=default=http://127.0.0.1:${etcdPeer}`,
        '--unsafe-no-fsync',
        '--log-level=error',
      ], dir),
    );

    const token = `admin-${Math.random().toString(36).slice(2)}`;
    // A second user with no permissions of its own, for tests of what a missing RBAC rule does.
    const viewerToken = `viewer-${Math.random().toString(36).slice(2)}`;
    writeFileSync(join(dir, 'tokens.csv'), `${token},admin,admin,"system:masters"\n${viewerToken},viewer,viewer\n`);
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(join(dir, 'sa.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
    writeFileSync(join(dir, 'sa.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
    mkdirSync(join(dir, 'pki'));
    children.push(
      startProcess('kube-apiserver', join(BIN, 'kube-apiserver'), [
        `--etcd-servers=${etcdUrl}`,
        '--bind-address=127.0.0.1',
        '--advertise-address=127.0.0.1',
        `--secure-port=${apiPort}`,
        `--cert-dir=${join(dir, 'pki')}`,
        '--service-cluster-ip-range=10.0.0.0/24',
        '--authorization-mode=RBAC',
        `--token-auth-file=${join(dir, 'tokens.csv')}`,
        // No controller-manager runs to create ServiceAccount tokens, so the admission plugin that waits for them is off.
        '--disable-admission-plugins=ServiceAccount',
        '--service-account-issuer=https://kubernetes.default.svc',
        `--service-account-key-file=${join(dir, 'sa.pub')}`,
        `--service-account-signing-key-file=${join(dir, 'sa.key')}`,
        '--v=0',
      ], dir),
    );

    const server = `https://127.0.0.1:${apiPort}`;
    await waitUntilReady(server, token, children, 120_000);
    log(`started kube-apiserver ${apiServerVersion()} on ${server} (etcd on ${etcdUrl})`);
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, kubeconfigFor(server, { admin: token, viewer: viewerToken }, readFileSync(join(dir, 'pki/apiserver.crt'), 'utf8')));
    return { server, kubeconfig, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

function apiServerVersion(): string {
  return spawnSync(join(BIN, 'kube-apiserver'), ['--version'], { encoding: 'utf8' }).stdout.trim();
}

/** Contexts `test` (cluster admin, the current one) and `viewer` (a user with no RBAC rules). */
function kubeconfigFor(server: string, tokens: { admin: string; viewer: string }, caPem: string): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'test', cluster: { server, 'certificate-authority-data': Buffer.from(caPem).toString('base64') } }],
    users: [
      { name: 'admin', user: { token: tokens.admin } },
      { name: 'viewer', user: { token: tokens.viewer } },
    ],
    contexts: [
      { name: 'test', context: { cluster: 'test', user: 'admin', namespace: 'default' } },
      { name: 'viewer', context: { cluster: 'test', user: 'viewer', namespace: 'default' } },
    ],
    'current-context': 'test',
  });
}

function startProcess(name: string, binary: string, args: string[], dir: string): ChildProcess {
  if (!existsSync(binary)) throw new Error(`${binary} is missing: run test/tools/build-tools.sh`);
  const child = spawn(binary, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const lines: string[] = [];
  child.stderr!.on('data', (chunk: Buffer) => {
    lines.push(chunk.toString());
    if (lines.length > 200) lines.shift();
  });
  child.once('exit', (code, signal) => {
    if (code !== null && code !== 0) process.stderr.write(`[kube-cluster] ${name} exited ${code}${signal ? ` (${signal})` : ''}:\n${lines.join('').slice(-4_000)}\n`);
  });
  return child;
}

async function waitUntilReady(server: string, token: string, children: ChildProcess[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const agent = new Agent({ rejectUnauthorized: false });
  while (Date.now() < deadline) {
    const dead = children.find((c) => c.exitCode !== null);
    if (dead) throw new Error(`${dead.spawnfile} exited with ${dead.exitCode} before the API server was ready`);
    const status = await new Promise<number>((done) => {
      const req = request(`${server}/readyz`, { agent, headers: { authorization: `Bearer ${token}` }, timeout: 2_000 }, (res) => {
        res.resume();
        done(res.statusCode ?? 0);
      });
      req.once('error', () => done(0));
      req.once('timeout', () => req.destroy());
      req.end();
    });
    if (status === 200) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`kube-apiserver was not ready within ${timeoutMs / 1000} s`);
}
