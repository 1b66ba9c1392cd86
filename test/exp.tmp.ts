import { spawnSync } from 'node:child_process';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { createDemoDatabase } from './support/demo-database.ts';
import { startPostgres } from './support/postgres-server.ts';
import { ensureMoto, startMoto } from './support/storage-servers.ts';
import { directS3Client } from './support/s3-test-config.ts';
const pg = await startPostgres();
const moto = await startMoto(ensureMoto(() => {}) as string);
await createDemoDatabase(pg.endpoint, 'x', { users: 100000, transactions: 5000000, days: 1, until: `'2024-10-05T00:00:00-03:00'::timestamptz` });
await directS3Client(moto.url).send(new CreateBucketCommand({ Bucket: 'bench-x' }));
const base = { PATH: process.env.PATH!, PGHOST: pg.endpoint.host, PGPORT: String(pg.endpoint.port), PGUSER: 'postgres', PGPASSWORD: pg.endpoint.password, PGDATABASE: 'x', REPORT_TIMEZONE: 'America/Sao_Paulo', LOG_LEVEL: 'warn', LOG_FORMAT: 'json', STORAGE_PROVIDER: 's3', AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'b', AWS_SECRET_ACCESS_KEY: 'b', S3_ENDPOINT: moto.url, S3_FORCE_PATH_STYLE: 'true', S3_BUCKET: 'bench-x', STORAGE_REQUEST_TIMEOUT: '30s' };
for (let i = 0; i < 6; i++) {
  const t0 = Date.now();
  const r = spawnSync('/usr/bin/time', ['-f', '%M', process.execPath, 'dist/main.js', 'run', '--date', '2024-10-05'], { env: base, encoding: 'utf8', timeout: 300_000 });
  const err = r.stderr.split('\n').find((l) => l.includes('"level":"error"'));
  console.log(`run ${i + 1}: ${((Date.now() - t0) / 1000).toFixed(1)} s, exit ${r.status}, RSS ${r.stderr.trim().split('\n').at(-1)} KB${err ? ' — ' + JSON.parse(err).msg.slice(0, 140) : ''}`);
}
await moto.stop(); await pg.stop();
