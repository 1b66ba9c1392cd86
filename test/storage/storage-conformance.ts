import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConditionNotMet } from '../../src/errors.ts';
import type { ReportStorage, WriteOptions } from '../../src/storage/report-storage.ts';

/** A provider under test, plus the back door a test needs to see what really landed. */
export interface StorageUnderTest {
  readonly storage: ReportStorage;
  /** The bytes stored under a key, or undefined when nothing is visible there. */
  read(key: string): Promise<Buffer | undefined>;
  /** Every object or file present, temporary ones included: "nothing left behind" means this. */
  listAll(): Promise<string[]>;
}

const options = (overrides: Partial<WriteOptions> = {}): WriteOptions => ({
  signal: new AbortController().signal,
  ifExists: 'overwrite',
  contentType: 'text/csv; charset=utf-8',
  metadata: { report_date: '2024-10-05' },
  ...overrides,
});

async function* chunks(...parts: (Buffer | Error)[]): AsyncGenerator<Buffer> {
  for (const part of parts) {
    if (part instanceof Error) throw part;
    yield part;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/**
 * The promises every storage provider keeps, run against each one with a real backend:
 * whole-or-nothing writes, conditional writes, and nothing left behind on failure.
 */
export function describeStorageConformance(provider: string, setup: () => Promise<StorageUnderTest>): void {
  describe(`${provider} storage (conformance)`, () => {
    it('publishes the body under the key, byte for byte, and reports it exists', async () => {
      const { storage, read, listAll } = await setup();
      const body = Buffer.from('a,b\r\n"x, y",1\r\n');
      expect(await storage.exists('relatorio_20241005.csv', options().signal)).toBe(false);
      await storage.write('relatorio_20241005.csv', chunks(body.subarray(0, 5), body.subarray(5)), options());
      expect(await read('relatorio_20241005.csv')).toEqual(body);
      expect(await storage.exists('relatorio_20241005.csv', options().signal)).toBe(true);
      expect(await listAll()).toEqual(['relatorio_20241005.csv']);
    });

    it('publishes an empty body as an empty object', async () => {
      const { storage, read } = await setup();
      await storage.write('empty.csv', chunks(), options());
      expect(await read('empty.csv')).toEqual(Buffer.alloc(0));
    });

    it('publishes a large body written in many chunks', async () => {
      const { storage, read } = await setup();
      const parts = Array.from({ length: 40 }, () => randomBytes(512 * 1024));
      await storage.write('large.csv', chunks(...parts), options());
      expect((await read('large.csv'))!.equals(Buffer.concat(parts))).toBe(true);
    });

    it('replaces an existing report when overwriting', async () => {
      const { storage, read } = await setup();
      await storage.write('r.csv', chunks(Buffer.from('old')), options());
      await storage.write('r.csv', chunks(Buffer.from('new')), options());
      expect((await read('r.csv'))!.toString()).toBe('new');
    });

    it('refuses to replace an existing report when told to fail, leaving it untouched', async () => {
      const { storage, read, listAll } = await setup();
      await storage.write('r.csv', chunks(Buffer.from('first')), options());
      await expect(storage.write('r.csv', chunks(Buffer.from('second')), options({ ifExists: 'fail' }))).rejects.toBeInstanceOf(ConditionNotMet);
      expect((await read('r.csv'))!.toString()).toBe('first');
      expect(await listAll()).toEqual(['r.csv']);
    });

    it('lets exactly one of two concurrent conditional writes publish, never a mix', async () => {
      const { storage, read } = await setup();
      const a = Buffer.alloc(2 * 1024 * 1024, 'a');
      const b = Buffer.alloc(2 * 1024 * 1024, 'b');
      const results = await Promise.allSettled([
        storage.write('race.csv', chunks(a.subarray(0, 1024), a.subarray(1024)), options({ ifExists: 'fail' })),
        storage.write('race.csv', chunks(b.subarray(0, 1024), b.subarray(1024)), options({ ifExists: 'fail' })),
      ]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
      expect(rejected.reason).toBeInstanceOf(ConditionNotMet);
      const stored = (await read('race.csv'))!;
      expect(stored.equals(a) || stored.equals(b)).toBe(true);
    });

    it('reports the identity it stored, and head, read and remove agree with it', async () => {
      const { storage, read, listAll } = await setup();
      const written = await storage.write('id.csv', chunks(Buffer.from('identity')), options({ metadata: { run_id: 'run-1' } }));
      const head = await storage.head('id.csv', options().signal);
      expect(head).toMatchObject({ etag: written.object.etag, size: 8 });
      expect(written.object.etag).not.toBe('');
      const got = await storage.read('id.csv', options().signal);
      expect(got?.bytes.toString()).toBe('identity');
      expect(got?.object.etag).toBe(written.object.etag);
      expect(await storage.head('missing.csv', options().signal)).toBeUndefined();
      expect(await storage.read('missing.csv', options().signal)).toBeUndefined();
      await expect(storage.remove('id.csv', { signal: options().signal, ifMatch: 'not-its-etag' })).rejects.toBeInstanceOf(ConditionNotMet);
      expect(await read('id.csv')).toBeDefined();
      await storage.remove('id.csv', { signal: options().signal, ifMatch: written.object.etag });
      expect(await listAll()).toEqual([]);
      // Gone already: what a retried delete finds.
      await storage.remove('id.csv', { signal: options().signal, ifMatch: written.object.etag });
    });

    it('replaces only the object named by If-Match, and never one that changed since', async () => {
      const { storage, read } = await setup();
      const first = await storage.write('m.csv', chunks(Buffer.from('first')), options());
      const second = await storage.write('m.csv', chunks(Buffer.from('second')), options({ ifMatch: first.object.etag }));
      expect((await read('m.csv'))!.toString()).toBe('second');
      await expect(storage.write('m.csv', chunks(Buffer.from('third')), options({ ifMatch: first.object.etag }))).rejects.toBeInstanceOf(ConditionNotMet);
      expect((await read('m.csv'))!.toString()).toBe('second');
      expect(second.object.etag).not.toBe(first.object.etag);
    });

    it('refuses a write If-Match an object that is gone with ConditionNotMet (S3 and MinIO answer 404 NoSuchKey, not 412)', async () => {
      const { storage, read, listAll } = await setup();
      const first = await storage.write('gone.csv', chunks(Buffer.from('first')), options());
      await storage.remove('gone.csv', { signal: options().signal, ifMatch: first.object.etag });
      await expect(storage.write('gone.csv', chunks(Buffer.from('second')), options({ ifMatch: first.object.etag }))).rejects.toBeInstanceOf(ConditionNotMet);
      expect(await read('gone.csv')).toBeUndefined();
      expect(await listAll()).toEqual([]);
    });

    it('makes nothing visible when the step before publishing fails', async () => {
      const { storage, read, listAll } = await setup();
      const refused = new Error('fence: lock lost');
      await expect(storage.write('f.csv', chunks(Buffer.from('x')), options({ beforePublish: async () => { throw refused; } }))).rejects.toBe(refused);
      expect(await read('f.csv')).toBeUndefined();
      expect(await listAll()).toEqual([]);
    });

    it('leaves nothing behind when the body fails midway, and rethrows the body’s error', async () => {
      const { storage, read, listAll } = await setup();
      const failure = new Error('database connection lost');
      await expect(storage.write('r.csv', chunks(Buffer.alloc(1024 * 1024, 'x'), failure), options())).rejects.toBe(failure);
      expect(await read('r.csv')).toBeUndefined();
      expect(await listAll()).toEqual([]);
    });

    it('keeps the previous report when an overwrite fails midway', async () => {
      const { storage, read, listAll } = await setup();
      await storage.write('r.csv', chunks(Buffer.from('previous')), options());
      await expect(storage.write('r.csv', chunks(Buffer.from('partial'), new Error('boom')), options())).rejects.toThrow('boom');
      expect((await read('r.csv'))!.toString()).toBe('previous');
      expect(await listAll()).toEqual(['r.csv']);
    });

    it('aborts on the signal and leaves nothing behind', async () => {
      const { storage, read, listAll } = await setup();
      const controller = new AbortController();
      async function* endless() {
        for (;;) {
          yield Buffer.alloc(64 * 1024, 'z');
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      }
      setTimeout(() => controller.abort(new Error('SIGTERM')), 100);
      await expect(storage.write('r.csv', endless(), options({ signal: controller.signal }))).rejects.toThrow();
      expect(await read('r.csv')).toBeUndefined();
      expect(await listAll()).toEqual([]);
    });
  });
}
