/**
 * State of partitions no longer owned, kept PARTITION_RETAIN_MS then deleted (src/ingest/retainedPartitions.ts),
 * with an injected clock, ownership and deletion.
 */
import { Writable } from 'node:stream';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createRetainedPartitions } from '../../src/ingest/retainedPartitions.ts';
import { createLogger } from '../../src/logger.ts';

const RETAIN_MS = 60_000;

/** Log lines as objects, to see what a sweep said. */
function capturedLog() {
  const lines: { level: number; msg: string; partition?: number }[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString('utf8')) as (typeof lines)[number]);
      done();
    },
  });
  return { log: createLogger('info', destination), lines };
}

function setUp(options: { retainMs?: number; drop?: (partition: number) => Promise<void> } = {}) {
  let now = 1_000_000;
  const owned = new Set<number>();
  const dropped: number[] = [];
  const { log, lines } = capturedLog();
  const retained = createRetainedPartitions({
    retainMs: options.retainMs ?? RETAIN_MS,
    log,
    owns: (partition) => owned.has(partition),
    drop:
      options.drop ??
      ((partition) => {
        dropped.push(partition);
        return Promise.resolve();
      }),
    now: () => now,
  });
  return {
    retained,
    owned,
    dropped,
    lines,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('retained partitions', () => {
  it('deletes a partition only once it has been held for the retention time', async () => {
    const { retained, dropped, advance } = setUp();
    retained.released(3);

    await retained.sweep();
    advance(RETAIN_MS - 1);
    await retained.sweep();
    expect(dropped).toEqual([]);
    expect(retained.held()).toEqual([3]);

    advance(1);
    await retained.sweep();
    expect(dropped).toEqual([3]);
    expect(retained.held()).toEqual([]);

    advance(RETAIN_MS);
    await retained.sweep();
    expect(dropped).toEqual([3]);
  });

  it('counts each partition from its own release', async () => {
    const { retained, dropped, advance } = setUp();
    retained.released(1);
    advance(RETAIN_MS / 2);
    retained.released(2);

    advance(RETAIN_MS / 2);
    await retained.sweep();
    expect(dropped).toEqual([1]);
    expect(retained.held()).toEqual([2]);

    advance(RETAIN_MS / 2);
    await retained.sweep();
    expect(dropped).toEqual([1, 2]);
  });

  it('counts from the first release: releasing a held partition again does not extend its time', async () => {
    const { retained, dropped, advance } = setUp();
    retained.released(4);
    advance(RETAIN_MS - 10);
    retained.released(4);

    advance(10);
    await retained.sweep();

    expect(dropped).toEqual([4]);
  });

  it('does not delete a partition reclaimed before its time is up, however long it stays', async () => {
    const { retained, dropped, advance } = setUp();
    retained.released(5);
    advance(RETAIN_MS / 2);
    retained.reclaimed(5);

    advance(10 * RETAIN_MS);
    await retained.sweep();

    expect(dropped).toEqual([]);
    expect(retained.held()).toEqual([]);
  });

  it('counts afresh when a reclaimed partition is released again', async () => {
    const { retained, dropped, advance } = setUp();
    retained.released(5);
    advance(RETAIN_MS - 1);
    retained.reclaimed(5);
    retained.released(5);

    advance(RETAIN_MS - 1);
    await retained.sweep();
    expect(dropped).toEqual([]);
    advance(1);
    await retained.sweep();
    expect(dropped).toEqual([5]);
  });

  it('does not delete a partition this instance owns again when its time is up, and stops holding it', async () => {
    const { retained, owned, dropped, advance } = setUp();
    retained.released(6);
    retained.released(7);
    owned.add(6);

    advance(RETAIN_MS);
    await retained.sweep();

    expect(dropped).toEqual([7]);
    expect(retained.held()).toEqual([]);
  });

  it('asks about ownership at the sweep, not at the release', async () => {
    const { retained, owned, dropped, advance } = setUp();
    owned.add(8);
    retained.released(8);
    advance(RETAIN_MS / 2);
    owned.delete(8);

    advance(RETAIN_MS / 2);
    await retained.sweep();

    expect(dropped).toEqual([8]);
  });

  it('keeps a partition whose deletion failed, warns, and deletes it on a later sweep', async () => {
    let failures = 2;
    const attempts: number[] = [];
    const { retained, lines, advance } = setUp({
      drop(partition) {
        attempts.push(partition);
        return partition === 9 && failures-- > 0
          ? Promise.reject(new Error('disk says no'))
          : Promise.resolve();
      },
    });
    retained.released(9);
    retained.released(2);
    advance(RETAIN_MS);

    await retained.sweep();
    expect(retained.held()).toEqual([9]);
    await retained.sweep();
    expect(retained.held()).toEqual([9]);
    await retained.sweep();

    expect(attempts).toEqual([9, 2, 9, 9]);
    expect(retained.held()).toEqual([]);
    const warnings = lines.filter((line) => line.level === 40);
    expect(warnings.map((line) => line.partition)).toEqual([9, 9]);
    expect(warnings[0]?.msg).toContain('trying later');
  });

  it('lists what it holds in ascending order', () => {
    const { retained } = setUp();
    for (const partition of [10, 2, 33, 1, 2]) retained.released(partition);

    expect(retained.held()).toEqual([1, 2, 10, 33]);
  });

  it('runs one sweep at a time: a sweep asked for while one runs is that sweep', async () => {
    let finish: () => void = () => undefined;
    const attempts: number[] = [];
    const { retained, advance } = setUp({
      drop(partition) {
        attempts.push(partition);
        return new Promise((resolve) => (finish = resolve));
      },
    });
    retained.released(1);
    advance(RETAIN_MS);

    const first = retained.sweep();
    const second = retained.sweep();
    expect(second).toBe(first);
    finish();
    await Promise.all([first, second]);

    expect(attempts).toEqual([1]);
    expect(retained.held()).toEqual([]);
  });

  it.each([
    [60_000, 6_000],
    [2_000, 1_000],
    [3_600_000, 60_000],
  ])(
    'once started, sweeps by itself (retention %i ms: every %i ms) until stopped',
    async (retainMs, every) => {
      vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
      const { retained, dropped, advance } = setUp({ retainMs });
      retained.released(1);
      advance(retainMs);
      retained.start();

      await vi.advanceTimersByTimeAsync(every - 1);
      expect(dropped).toEqual([]);
      await vi.advanceTimersByTimeAsync(1);
      expect(dropped).toEqual([1]);

      retained.stop();
      retained.released(2);
      advance(retainMs);
      await vi.advanceTimersByTimeAsync(10 * every);
      expect(dropped).toEqual([1]);
    },
  );
});

describe('property: over any releases, reclaims, ownership, clock and failing deletions', () => {
  type Step =
    | { kind: 'released' | 'reclaimed' | 'own' | 'disown'; partition: number }
    | { kind: 'advance'; ms: number }
    | { kind: 'sweep'; failing: number[] };
  const partition = fc.nat(5);
  const step: fc.Arbitrary<Step> = fc.oneof(
    fc.record({
      kind: fc.constantFrom('released' as const, 'reclaimed' as const, 'own' as const, 'disown' as const),
      partition,
    }),
    fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: RETAIN_MS }) }),
    fc.record({ kind: fc.constant('sweep' as const), failing: fc.uniqueArray(partition, { maxLength: 3 }) }),
  );

  it('deletes only what was released at least the retention time ago (counted from the release after its last reclaim) and is not owned; after a sweep, nothing due and deletable is still held', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 40 }), async (steps) => {
        let failing = new Set<number>();
        const dropped: number[] = [];
        const { retained, owned, advance } = setUp({
          drop(p) {
            if (failing.has(p)) return Promise.reject(new Error('disk says no'));
            dropped.push(p);
            return Promise.resolve();
          },
        });
        let now = 0;
        const since = new Map<number, number>();
        for (const next of steps) {
          switch (next.kind) {
            case 'released':
              retained.released(next.partition);
              if (!since.has(next.partition)) since.set(next.partition, now);
              break;
            case 'reclaimed':
              retained.reclaimed(next.partition);
              since.delete(next.partition);
              break;
            case 'own':
              owned.add(next.partition);
              break;
            case 'disown':
              owned.delete(next.partition);
              break;
            case 'advance':
              advance(next.ms);
              now += next.ms;
              break;
            case 'sweep': {
              failing = new Set(next.failing);
              dropped.length = 0;
              await retained.sweep();
              for (const p of dropped) {
                expect(now - (since.get(p) ?? Infinity)).toBeGreaterThanOrEqual(RETAIN_MS);
                expect(owned.has(p)).toBe(false);
              }
              for (const [p, releasedAt] of [...since]) {
                if (now - releasedAt < RETAIN_MS) continue;
                // Due: deleted, or no longer held because it is owned, or kept because its deletion failed.
                if (owned.has(p) || !failing.has(p)) {
                  expect(retained.held()).not.toContain(p);
                  expect(dropped.includes(p)).toBe(!owned.has(p));
                  since.delete(p);
                } else {
                  expect(retained.held()).toContain(p);
                }
              }
              break;
            }
          }
          expect(retained.held()).toEqual([...since.keys()].toSorted((a, b) => a - b));
        }
      }),
      { numRuns: 300 },
    );
  });
});
