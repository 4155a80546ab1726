import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ABSENT,
  CountedIds,
  DEAD,
  ENTRY_WORDS,
  LIVE,
  nextUseTick,
  type BlockSpill,
} from '../../src/projection/compact/countedIds.ts';

/** Words near the edges, so that ties on the group and hi words and unsigned order all matter. */
const word = fc.constantFrom(0, 1, 2, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff);
const group = fc.constantFrom(0, 1, 2, 5);
const key = fc.tuple(
  group,
  word,
  fc.nat(300).map((n) => (n < 150 ? n : 0xffffffff - n)),
);
const op = fc.oneof(
  // Payloads from a few, so that runs of keys share one (a member's own messages in a row).
  {
    arbitrary: fc.record({
      kind: fc.constant('insert' as const),
      key,
      live: fc.boolean(),
      payload: fc.nat(2),
    }),
    weight: 5,
  },
  // Kills and revives mostly name a key the set holds (`seen`: the how-many-th, when not undefined).
  {
    arbitrary: fc.record({ kind: fc.constant('kill' as const), key, seen: fc.option(fc.nat(), { freq: 5 }) }),
    weight: 2,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant('revive' as const),
      key,
      seen: fc.option(fc.nat(), { freq: 5 }),
    }),
    weight: 2,
  },
  { arbitrary: fc.record({ kind: fc.constant('ask' as const), key }), weight: 3 },
);

/** Now and then, blocks untouched for `idle` steps are parked. */
const opOrPark = fc.oneof(
  { arbitrary: op, weight: 10 },
  { arbitrary: fc.record({ kind: fc.constant('park' as const), idle: fc.nat(6) }), weight: 1 },
);

type Step = typeof opOrPark extends fc.Arbitrary<infer T> ? T : never;

/** A spill in a Map that checks it is used as promised: nothing read that it does not hold. */
class MapSpill implements BlockSpill {
  readonly held = new Map<number, Uint32Array>();
  #next = 1;
  park(entries: Uint32Array, size: number): number {
    const serial = this.#next++;
    this.held.set(serial, entries.slice(0, size * ENTRY_WORDS));
    return serial;
  }
  reads = 0;
  read(serial: number, into: Uint32Array): void {
    this.reads++;
    const entries = this.held.get(serial);
    if (entries === undefined) throw new Error(`serial ${serial} was never parked, or was discarded`);
    into.set(entries);
  }
  discard(serial: number): void {
    if (!this.held.delete(serial)) throw new Error(`serial ${serial} discarded twice`);
  }
}

type Key = readonly [number, number, number];
const big = ([g, hi, lo]: Key) => (BigInt(g) << 64n) | (BigInt(hi) << 32n) | BigInt(lo);
const idOf = (k: bigint) => k & 0xffffffffffffffffn;
const groupOf = (k: bigint) => k >> 64n;

/**
 * Runs `ops` on a set and on a map of keys, comparing every answer after each; park steps park blocks untouched for
 * `idle` steps into a spill that checks it is used as promised.
 */
function againstModel(blockSize: number, ops: readonly Step[]): number {
  const ids = new CountedIds(blockSize, { solePayloads: true });
  const spill = new MapSpill();
  const model = new Map<bigint, { live: boolean; payload: number }>();
  const out = new Uint32Array(3);
  const held: Key[] = [];
  ops.forEach((step, n) => {
    const tick = nextUseTick();
    if (step.kind === 'park') {
      const before = ids.residentSize;
      expect(ids.parkCold(tick - step.idle, spill)).toBe(before - ids.residentSize);
      if (ids.size > 0) expect(ids.residentSize).toBeGreaterThan(0);
      return;
    }
    const seen = 'seen' in step && step.seen !== null && held.length > 0 ? step.seen : undefined;
    const chosen = seen === undefined ? step.key : (held[seen % held.length] ?? step.key);
    const [g, hi, lo] = chosen;
    const k = big(chosen);
    if (!model.has(k)) held.push(chosen);
    const known = model.get(k);
    expect(ids.state(g, hi, lo)).toBe(known === undefined ? ABSENT : known.live ? LIVE : DEAD);
    if (step.kind === 'insert' && known === undefined) {
      ids.insert(g, hi, lo, step.live, step.payload);
      model.set(k, { live: step.live, payload: step.payload });
    } else if (step.kind === 'kill' && known?.live === true) {
      expect(ids.kill(g, hi, lo)).toBe(known.payload);
      known.live = false;
    } else if (step.kind === 'revive' && known?.live !== true) {
      ids.revive(g, hi, lo);
      if (known === undefined) model.set(k, { live: true, payload: 0 });
      else known.live = true;
    }
    if (model.has(k)) expect(ids.payloadOf(g, hi, lo)).toBe(model.get(k)?.payload);
    const live = [...model].filter(([, entry]) => entry.live).map(([entry]) => entry);
    const liveSorted = [...model].filter(([, entry]) => entry.live).sort(([a], [b]) => (a < b ? -1 : 1));
    // Each step asks for another payload than one (or than none, -1), from the key's rank and from the first.
    const payload = (n % 4) - 1;
    for (const rank of [live.length - live.filter((other) => other > k).length, 0]) {
      const found = liveSorted.slice(rank).find(([, entry]) => entry.payload !== payload);
      expect(ids.liveKeyNotOf(rank, payload, out)).toBe(found !== undefined);
      if (found !== undefined) {
        expect((BigInt(out[0] ?? 0) << 32n) | BigInt(out[1] ?? 0)).toBe(idOf(found[0]));
        expect(out[2]).toBe(found[1].payload);
      }
    }
    const inGroup = live.filter((other) => groupOf(other) === BigInt(g));
    expect(ids.liveAbove(g, hi, lo)).toBe(live.filter((other) => other > k).length);
    expect(ids.liveAboveIn(g, hi, lo)).toBe(inGroup.filter((other) => other > k).length);
    expect(ids.liveIn(g)).toBe(inGroup.length);
    expect(ids.liveCount).toBe(live.length);
    expect(ids.size).toBe(model.size);
    const max = live.reduce<bigint | undefined>((a, b) => (a === undefined || b > a ? b : a), undefined);
    expect(ids.maxLive(out)).toBe(max !== undefined);
    if (max !== undefined) expect((BigInt(out[0] ?? 0) << 32n) | BigInt(out[1] ?? 0)).toBe(idOf(max));
  });
  const entries = [...ids.entries()].map((entry) => big([entry.group, entry.hi, entry.lo]));
  expect(entries).toEqual([...model.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
  // Every parked key is in the spill, and the spill holds nothing else but unchanged copies of loaded blocks.
  const spilled = [...spill.held.values()].reduce((sum, entries) => sum + entries.length / ENTRY_WORDS, 0);
  expect(spilled).toBeGreaterThanOrEqual(ids.size - ids.residentSize);
  const serials: number[] = [];
  ids.collectSerials(serials);
  for (const serial of serials) spill.discard(serial);
  expect(spill.held.size).toBe(0);
  return spill.reads;
}

describe('CountedIds against a sorted list', () => {
  it('answers state, payloads, live counts above any key, per group, the greatest live id and the first live key of another payload as brute force does', () => {
    fc.assert(
      fc.property(fc.constantFrom(4, 5, 8, 128), fc.array(op, { maxLength: 400 }), (blockSize, ops) => {
        againstModel(blockSize, ops);
      }),
      {
        numRuns: 1000,
      },
    );
  });

  it('answers the same with blocks parked and loaded back at any point', () => {
    let parked = 0;
    fc.assert(
      fc.property(
        fc.constantFrom(4, 5),
        fc.array(opOrPark, { minLength: 100, maxLength: 300 }),
        (blockSize, ops) => {
          parked += againstModel(blockSize, ops);
        },
      ),
      { numRuns: 200 },
    );
    // The property holds because blocks were parked and read back, not because none ever was.
    expect(parked).toBeGreaterThan(1_000);
  });

  it('keeps counting across many blocks when ids come in order, out of order and die far back', () => {
    const ids = new CountedIds(4);
    for (let i = 0; i < 1000; i += 2) ids.insert(0, 0, i, true);
    for (let i = 1; i < 1000; i += 4) ids.insert(0, 0, i, true);
    for (let i = 0; i < 1000; i += 6) ids.kill(0, 0, i);
    const live = (above: number) => {
      let count = 0;
      for (let i = above + 1; i < 1000; i++) {
        if ((i % 2 === 0 && i % 6 !== 0) || i % 4 === 1) count++;
      }
      return count;
    };
    for (const above of [0, 1, 2, 3, 499, 500, 998, 999, 1000]) {
      expect(ids.liveAbove(0, 0, above)).toBe(live(above));
    }
    expect(ids.liveCount).toBe(live(-1));
  });

  it('counts right when blocks only ever come by appends (a channel read back in order)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 600 }), fc.array(fc.nat(599)), (count, kills) => {
        const ids = new CountedIds(4);
        for (let i = 0; i < count; i++) ids.insert(0, 0, i * 2, true);
        const dead = new Set(kills.filter((k) => k < count));
        for (const k of dead) ids.kill(0, 0, k * 2);
        for (let above = 0; above < 2 * count; above += 7) {
          let live = 0;
          for (let i = 0; i < count; i++) if (2 * i > above && !dead.has(i)) live++;
          expect(ids.liveAbove(0, 0, above)).toBe(live);
        }
        expect(ids.liveCount).toBe(count - dead.size);
      }),
      { numRuns: 300 },
    );
  });

  it('filled whole from sorted entries, answers and changes as the same keys inserted one by one', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(4, 5, 128),
        fc.uniqueArray(fc.tuple(key, fc.boolean(), fc.constantFrom(0, 7, 1000)), {
          selector: ([k]) => big(k),
          maxLength: 300,
        }),
        fc.array(op, { maxLength: 100 }),
        (blockSize, held, ops) => {
          const sorted = [...held].sort(([a], [b]) => (big(a) < big(b) ? -1 : 1));
          const entries = new Uint32Array(sorted.length * ENTRY_WORDS);
          sorted.forEach(([[g, hi, lo], live, payload], i) => {
            entries.set([g, hi, lo, (payload << 1) | (live ? 1 : 0)], i * ENTRY_WORDS);
          });
          const filled = new CountedIds(blockSize, { solePayloads: true });
          filled.fill(entries, sorted.length);
          const inserted = new CountedIds(blockSize, { solePayloads: true });
          for (const [[g, hi, lo], live, payload] of held) inserted.insert(g, hi, lo, live, payload);
          const out = [new Uint32Array(3), new Uint32Array(3)] as const;
          const same = ([g, hi, lo]: Key) => {
            const rank = filled.liveCount - filled.liveAbove(g, hi, lo);
            for (const payload of [0, 7, g]) {
              expect(filled.liveKeyNotOf(rank, payload, out[0])).toBe(
                inserted.liveKeyNotOf(rank, payload, out[1]),
              );
              expect([...out[0]]).toEqual([...out[1]]);
            }
            expect(filled.state(g, hi, lo)).toBe(inserted.state(g, hi, lo));
            expect(filled.liveAbove(g, hi, lo)).toBe(inserted.liveAbove(g, hi, lo));
            expect(filled.liveIn(g)).toBe(inserted.liveIn(g));
            expect(filled.maxLive(out[0])).toBe(inserted.maxLive(out[1]));
            expect([...out[0]]).toEqual([...out[1]]);
          };
          expect([...filled.entries()]).toEqual([...inserted.entries()]);
          for (const [k] of held) same(k);
          for (const step of ops) {
            const [g, hi, lo] = step.key;
            const state = inserted.state(g, hi, lo);
            if (step.kind === 'insert' && state === ABSENT) {
              filled.insert(g, hi, lo, step.live, 7);
              inserted.insert(g, hi, lo, step.live, 7);
            } else if (step.kind === 'kill' && state === LIVE) {
              expect(filled.kill(g, hi, lo)).toBe(inserted.kill(g, hi, lo));
            } else if (step.kind === 'revive' && state !== LIVE) {
              filled.revive(g, hi, lo);
              inserted.revive(g, hi, lo);
            }
            same(step.key);
          }
          expect([...filled.entries()]).toEqual([...inserted.entries()]);
          expect(filled.liveCount).toBe(inserted.liveCount);
          expect(filled.size).toBe(inserted.size);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('finds the first live key of another payload reading two blocks, however many of one payload come before', () => {
    // A member's first unread message after a long run of their own: the old binary search over ranks read
    // O(log n) blocks (each a parked block loaded back); the sole-payload tree needs only the first and the last.
    const reads = [10, 1_000].map((blocks) => {
      const ids = new CountedIds(8, { solePayloads: true });
      const own = blocks * 8 - 1;
      for (let i = 0; i < own; i++) ids.insert(0, 0, i, true, 3);
      ids.insert(0, 0, own, true, 4);
      ids.insert(0, 0, own + 1, true, 3);
      const spill = new MapSpill();
      ids.parkCold(nextUseTick() + 1, spill);
      const out = new Uint32Array(3);
      expect(ids.liveKeyNotOf(0, 3, out)).toBe(true);
      expect([...out]).toEqual([0, own, 4]);
      expect(ids.liveKeyNotOf(0, 4, out)).toBe(true);
      expect([...out]).toEqual([0, 0, 3]);
      expect(ids.liveKeyNotOf(own + 1, 3, out)).toBe(false);
      return spill.reads;
    });
    expect(reads).toEqual([2, 2]);
  });

  it('refuses to fill from keys out of order, repeated, or into a set that holds keys', () => {
    const ids = new CountedIds();
    expect(() => {
      ids.fill(new Uint32Array([0, 0, 2, 1, 0, 0, 1, 1]), 2);
    }).toThrow(/ascending/);
    expect(() => {
      ids.fill(new Uint32Array([0, 0, 2, 1, 0, 0, 2, 1]), 2);
    }).toThrow(/ascending/);
    ids.insert(0, 0, 1, true);
    expect(() => {
      ids.fill(new Uint32Array([0, 0, 2, 1]), 1);
    }).toThrow(/empty/);
  });

  it('refuses to insert a key twice or kill one that is not live', () => {
    const ids = new CountedIds();
    ids.insert(0, 1, 2, false);
    expect(() => {
      ids.insert(0, 1, 2, true);
    }).toThrow(/already/);
    expect(() => ids.kill(0, 1, 2)).toThrow(/not live/);
    expect(() => ids.kill(0, 1, 3)).toThrow(/not live/);
    expect(() => new CountedIds(3)).toThrow(/blockSize/);
    expect(() => new CountedIds().liveKeyNotOf(0, 0, new Uint32Array(3))).toThrow(/solePayloads/);
  });
});
