import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ResidentOrder } from '../../src/store/residentOrder.ts';

type Entry = { key: number; uses: number; usesAge: number };

/**
 * `rounds` cycles over `keys` channels through a budget of `budget` (weight 1 each), in chunks of `chunk` keys, as
 * CompactStore runs them: a chunk loads what is not resident and uses it, then its commit evicts to the budget.
 * Uses survive evictions, as in `evicted`. Returns the hits of the last round.
 */
function lastRoundHits(keys: number, budget: number, chunk: number, rounds: number): number {
  const order = new ResidentOrder<Entry>();
  const held = new Map<number, Entry>();
  const uses = new Map<number, [number, number]>();
  let hits = 0;
  for (let round = 0; round < rounds; round++) {
    hits = 0;
    for (let start = 0; start < keys; start += chunk) {
      const used: Entry[] = [];
      for (let key = start; key < Math.min(keys, start + chunk); key++) {
        let entry = held.get(key);
        if (entry === undefined) {
          const [count, age] = uses.get(key) ?? [0, 0];
          entry = { key, uses: count, usesAge: age };
          order.add(entry, 1);
          held.set(key, entry);
        } else {
          hits++;
        }
        used.push(entry);
      }
      for (const entry of used) order.use(entry, order.weight <= budget);
      while (order.weight > budget) {
        const victim = order.victim(used.at(-1));
        if (victim === undefined) break;
        order.delete(victim);
        held.delete(victim.key);
        uses.set(victim.key, [victim.uses, victim.usesAge]);
      }
    }
  }
  return hits;
}

describe('ResidentOrder', () => {
  it('keeps most of its budget through a cycle larger than the budget, where least-recently-used keeps nothing', () => {
    // 400 channels over and over through a budget of 100: LRU evicts each one just before its next use.
    expect(lastRoundHits(400, 100, 50, 30)).toBeGreaterThan(60);
  });

  it('lets in a channel used in chunk after chunk, however often the others were used before', () => {
    const order = new ResidentOrder<Entry>();
    const old = Array.from({ length: 10 }, (_, key) => ({ key, uses: 0, usesAge: 0 }));
    for (const entry of old) {
      order.add(entry, 1);
      for (let i = 0; i < 20; i++) order.use(entry, true);
    }
    // Over budget from here: a newcomer is refused until it has been used more than the oldest's count.
    const hot = { key: 99, uses: 0, usesAge: 0 };
    order.add(hot, 1);
    let chunks = 0;
    while (order.victim(undefined) === hot && chunks < 100) {
      order.use(hot, false);
      chunks++;
    }
    expect(order.victim(undefined)).not.toBe(hot);
    expect(chunks).toBeLessThan(20);
  });

  it('evicts probation oldest first, then the main order least recently used first, and swaps on admission', () => {
    const order = new ResidentOrder<Entry>();
    const [a, b, c, d, e] = Array.from({ length: 5 }, (_, key) => ({ key, uses: 0, usesAge: 0 }));
    for (const entry of [a, b, c] as Entry[]) {
      order.add(entry, 1);
      order.use(entry, true);
    }
    order.use(a as Entry, true);
    // Main now holds b, c, a from least to most recently used.
    expect(order.victim(undefined)).toBe(b);
    order.add(d as Entry, 1);
    order.add(e as Entry, 1);
    expect(order.victim(undefined)).toBe(d);
    expect(order.victim(d)).toBe(e);
    // Over budget, e is used until it has been used more often than b: then b goes on probation, behind d.
    while (order.victim(undefined) === d && order.victim(d) === e) order.use(e as Entry, false);
    expect(order.victim(d)).toBe(b);
    order.delete(d as Entry);
    expect(order.victim(undefined)).toBe(b);
    order.delete(b as Entry);
    expect(order.victim(undefined)).toBe(c);
  });

  it('holds the weights it was given, and names as victim any entry but the one kept', () => {
    const op = fc.oneof(
      fc.record({
        kind: fc.constant('add' as const),
        key: fc.nat(20),
        weight: fc.integer({ min: 1, max: 9 }),
      }),
      fc.record({ kind: fc.constant('use' as const), key: fc.nat(20), fits: fc.boolean() }),
      fc.record({
        kind: fc.constant('reweigh' as const),
        key: fc.nat(20),
        weight: fc.integer({ min: 1, max: 9 }),
      }),
      fc.record({ kind: fc.constant('delete' as const), key: fc.nat(20) }),
      fc.record({ kind: fc.constant('evict' as const), keep: fc.nat(20) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const order = new ResidentOrder<Entry>();
        const entries = Array.from({ length: 21 }, (_, key) => ({ key, uses: 0, usesAge: 0 }));
        const model = new Map<number, number>();
        for (const step of ops) {
          if (step.kind === 'add') {
            const entry = entries[step.key] as Entry;
            if (model.has(step.key)) {
              expect(() => {
                order.add(entry, step.weight);
              }).toThrow(/held already/);
            } else {
              order.add(entry, step.weight);
              model.set(step.key, step.weight);
            }
          } else if (step.kind === 'use') {
            order.use(entries[step.key] as Entry, step.fits);
          } else if (step.kind === 'reweigh') {
            order.reweigh(entries[step.key] as Entry, step.weight);
            if (model.has(step.key)) model.set(step.key, step.weight);
          } else if (step.kind === 'delete') {
            expect(order.delete(entries[step.key] as Entry)).toBe(model.delete(step.key));
          } else {
            const victim = order.victim(entries[step.keep]);
            const others = [...model.keys()].filter((key) => key !== step.keep);
            if (others.length === 0) expect(victim).toBeUndefined();
            else {
              expect(others).toContain(victim?.key);
              order.delete(victim as Entry);
              model.delete((victim as Entry).key);
            }
          }
          expect(order.size).toBe(model.size);
          expect(order.weight).toBe([...model.values()].reduce((a, b) => a + b, 0));
          for (const entry of entries) expect(entry.uses).toBeGreaterThanOrEqual(0);
        }
      }),
      { numRuns: 500 },
    );
  });
});
