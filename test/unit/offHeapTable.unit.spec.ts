import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  capacityForBudget,
  HEADER_WORDS,
  type KeyHash,
  murmurKeyHash,
  OffHeapTable,
  slotBytes,
} from '../../src/store/offHeapTable.ts';

type Key = readonly [number, number, number, number];
const keyId = (key: Key) => key.join(',');
const int32Key = (key: Key): Key => [key[0] | 0, key[1] | 0, key[2] | 0, key[3] | 0];

/** Hashes from good to useless: the weak ones pile every key into a few runs, the last two into one. */
const HASHES: Record<string, KeyHash> = {
  murmur: murmurKeyHash,
  lowBits: (_k1hi, k1lo, _k2hi, k2lo) => (k1lo ^ k2lo) & 3,
  /** Every key homes in the last slot, so the one run wraps around the end of the table. */
  lastSlot: () => 0xffffffff,
  zero: () => 0,
};

/** Words that differ in the high bit, the low bit and not at all, so that near-equal keys meet. */
const word = fc.constantFrom(0, 1, 2, 0x80000000, 0xffffffff);
const keyArb = fc.tuple(word, word, word, word);

type Op = { kind: 'set'; key: number; value: number[] } | { kind: 'get' | 'has' | 'delete'; key: number };

function opArb(valueWords: number): fc.Arbitrary<Op> {
  const key = fc.nat(39);
  return fc.oneof(
    {
      weight: 5,
      arbitrary: fc.record({ kind: fc.constant('set' as const), key, value: valueArb(valueWords) }),
    },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('get' as const), key }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('has' as const), key }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), key }) },
  );
}

function valueArb(valueWords: number): fc.Arbitrary<number[]> {
  return fc.array(fc.oneof(fc.constantFrom(0, 0xffffffff), fc.nat({ max: 0xffffffff })), {
    minLength: valueWords,
    maxLength: valueWords,
  });
}

function fail(message: string): never {
  throw new Error(message);
}

describe('OffHeapTable against a Map', () => {
  const scenario = fc
    .record({
      capacity: fc.constantFrom(2, 3, 8, 12, 16, 37, 64),
      valueWords: fc.integer({ min: 0, max: 3 }),
      maxLoadFactor: fc.constantFrom(0.5, 0.8, 0.95),
      hash: fc.constantFrom(...Object.keys(HASHES)),
      // Few keys: sets overwrite, deletes hit. Many: the table fills and evicts.
      keys: fc.uniqueArray(keyArb, { minLength: 1, maxLength: 40, selector: keyId, size: 'max' }),
    })
    .chain((config) =>
      fc.record({
        config: fc.constant(config),
        ops: fc.array(opArb(config.valueWords), { maxLength: 120, size: 'max' }),
      }),
    );

  it('holds what the Map holds, less only what it reported evicting', () => {
    fc.assert(
      fc.property(scenario, ({ config, ops }) => {
        const { keys, valueWords } = config;
        const model = new Map<string, number[]>();
        let evicted: Key[] = [];
        const table = new OffHeapTable({
          capacity: config.capacity,
          valueWords,
          maxLoadFactor: config.maxLoadFactor,
          hash: HASHES[config.hash] ?? fail(`no hash ${config.hash}`),
          onEvict: (...key) => evicted.push(key),
        });
        const reader = OffHeapTable.attach(table.buffer, {
          hash: HASHES[config.hash] ?? fail(`no hash ${config.hash}`),
        });
        const out = new Uint32Array(valueWords);
        const keyAt = (index: number): Key => keys[index % keys.length] ?? fail('no keys');

        for (const op of ops) {
          const key = keyAt(op.key);
          const id = keyId(key);
          switch (op.kind) {
            case 'set': {
              const sizeBefore = model.size;
              table.set(...key, op.value);
              for (const gone of evicted) {
                if (!model.delete(keyId(gone))) fail(`evicted ${keyId(gone)}, which was not held`);
                if (keyId(gone) === id) fail('evicted the key being set');
              }
              const expected = model.has(id) || sizeBefore < table.maxEntries ? 0 : 1;
              if (evicted.length !== expected) {
                fail(
                  `${evicted.length} evictions setting ${id} with ${sizeBefore} held; expected ${expected}`,
                );
              }
              evicted = [];
              model.set(id, op.value);
              break;
            }
            case 'get': {
              const found = table.get(...key, out);
              const value = model.get(id);
              if (found !== (value !== undefined)) fail(`get ${id}: found ${found}, the model disagrees`);
              if (value !== undefined && out.join() !== value.join()) {
                fail(`get ${id}: ${out.join()}, the model holds ${value.join()}`);
              }
              break;
            }
            case 'has':
              if (table.has(...key) !== model.has(id)) fail(`has ${id} disagrees`);
              break;
            case 'delete':
              if (table.delete(...key) !== model.delete(id)) fail(`delete ${id} disagrees`);
              if (table.has(...key)) fail(`${id} still held after delete`);
              break;
          }
          if (table.size !== model.size) fail(`size ${table.size}, model ${model.size}`);
          if (table.size > table.maxEntries) fail(`size ${table.size} above ${table.maxEntries}`);
          // Every key, held or not: a broken run would hide a held key or keep a deleted one.
          for (const other of keys) {
            if (table.has(...other) !== model.has(keyId(other)))
              fail(`after ${op.kind} ${id}: ${keyId(other)}`);
            // The other threads' path (int32 words, the hash computed apart) finds the same values.
            const at = reader.valueIndexOf(reader.hashOf(...other), ...int32Key(other));
            const held = model.get(keyId(other));
            if (at >= 0 !== (held !== undefined)) fail(`valueIndexOf ${keyId(other)} disagrees`);
            if (held !== undefined) {
              const words = [...reader.ints.subarray(at, at + valueWords)].map((w) => w >>> 0);
              if (words.join() !== held.join()) fail(`valueIndexOf ${keyId(other)}: ${words.join()}`);
            }
          }
        }
        const stats = table.stats();
        expect(stats.inserts - stats.deletes - stats.evictions).toBe(model.size);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('OffHeapTable', () => {
  /** Key i homes in slot i, so the hand's path is easy to follow. */
  const bySlot: KeyHash = (_k1hi, k1lo) => k1lo;

  function clockTable(evicted: number[]) {
    // 8 slots, 6 entries at most.
    return new OffHeapTable({
      capacity: 8,
      valueWords: 1,
      hash: bySlot,
      onEvict: (_k1hi, k1lo) => evicted.push(k1lo),
    });
  }

  it('gives a read entry a second chance: it outlives one sweep of the clock hand, not two', () => {
    const evicted: number[] = [];
    const table = clockTable(evicted);
    const out = new Uint32Array(1);
    for (let key = 0; key < 6; key++) table.set(0, key, 0, 0, [key]);
    expect(table.get(0, 0, 0, 0, out)).toBe(true);

    // The hand starts at slot 0: it clears key 0's bit and takes key 1, the first entry never read.
    table.set(0, 6, 0, 0, [6]);
    expect(evicted).toEqual([1]);
    expect(table.has(0, 0, 0, 0)).toBe(true);

    // Each insert moves the hand on; when it comes back to slot 0, key 0 has not been read since.
    for (let key = 7; key < 14; key++) table.set(0, key, 0, 0, [key]);
    expect(evicted).toEqual([1, 2, 3, 4, 5, 6, 7, 0]);
    expect(table.size).toBe(6);
  });

  it('spares an entry for as long as it is read between sweeps', () => {
    const evicted: number[] = [];
    const table = clockTable(evicted);
    const out = new Uint32Array(1);
    for (let key = 0; key < 6; key++) table.set(0, key, 0, 0, [key]);
    for (let key = 6; key < 30; key++) {
      table.get(0, 0, 0, 0, out);
      table.set(0, key, 0, 0, [key]);
    }
    expect(evicted).toHaveLength(24);
    expect(evicted).not.toContain(0);
    expect(table.get(0, 0, 0, 0, out)).toBe(true);
    expect(out[0]).toBe(0);
  });

  it('keeps an overwritten entry’s reference bit and value count', () => {
    const evicted: number[] = [];
    const table = clockTable(evicted);
    for (let key = 0; key < 6; key++) table.set(0, key, 0, 0, [key]);
    table.get(0, 0, 0, 0, new Uint32Array(1));
    table.set(0, 0, 0, 0, [99]);
    table.set(0, 6, 0, 0, [6]);
    expect(evicted).toEqual([1]);
    expect(table.stats()).toMatchObject({ size: 6, inserts: 7, updates: 1, evictions: 1, hits: 1 });
  });

  it('moves a wrapped run back over a deleted slot, and leaves an entry that sits in its home', () => {
    // Homes: a → 6, b → 6, c → 7, d → 1; they sit at 6, 7, 0 and 1.
    const homes = new Map([
      [10, 6],
      [11, 6],
      [12, 7],
      [13, 1],
    ]);
    const table = new OffHeapTable({ capacity: 8, valueWords: 1, hash: (_h, lo) => homes.get(lo) ?? 0 });
    for (const key of homes.keys()) table.set(0, key, 0, 0, [key]);
    expect(table.delete(0, 10, 0, 0)).toBe(true);
    const out = new Uint32Array(1);
    for (const key of [11, 12, 13]) {
      expect(table.get(0, key, 0, 0, out)).toBe(true);
      expect(out[0]).toBe(key);
    }
    expect(table.has(0, 10, 0, 0)).toBe(false);
    // The layout itself: b and c moved back one slot each, d stayed in its home.
    const words = new Uint32Array(table.buffer);
    const keyInSlot = (slot: number) => words[HEADER_WORDS + slot * 6 + 1];
    expect([6, 7, 0, 1].map(keyInSlot)).toEqual([11, 12, 12, 13]);
    expect(words[HEADER_WORDS + 0 * 6 + 4]).toBe(0); // slot 0 emptied (c's stale copy stays but is unreachable)
  });

  it('treats the words as uint32, whatever sign they arrive with', () => {
    const table = new OffHeapTable({ capacity: 8, valueWords: 1 });
    table.set(-1, -2, 0, 0x80000000 | 0, [1]);
    expect(table.has(0xffffffff, 0xfffffffe, 0, 0x80000000)).toBe(true);
  });

  it('clears, and takes a table keyed by one id', () => {
    const table = new OffHeapTable({ capacity: 8, valueWords: 2 });
    table.set(0, 7, 0, 0, [1, 2]);
    table.set(0, 7, 0, 1, [3, 4]);
    expect(table.size).toBe(2);
    table.clear();
    expect(table.size).toBe(0);
    expect(table.has(0, 7, 0, 0)).toBe(false);
  });

  it('sizes itself from a byte budget as the most slots that fit', () => {
    expect(slotBytes(7)).toBe(48);
    expect(capacityForBudget(192 * 2 ** 20, 7)).toBe(2 ** 22);
    expect(capacityForBudget(192 * 2 ** 20 - 1, 7)).toBe(2 ** 22 - 1);
    expect(capacityForBudget(96, 7)).toBe(2);
    expect(capacityForBudget(95, 7)).toBe(0);
    expect(capacityForBudget(2 ** 40, 7)).toBe(Math.floor((2 ** 31 - 17) / 12));
    const table = new OffHeapTable({ bytesBudget: 1000, valueWords: 7 });
    expect(table.stats()).toMatchObject({ capacity: 20, maxEntries: 16, bytes: 64 + 20 * 48 });
  });

  it.each([
    [{ valueWords: 1, capacity: 1 }, /from 2 up/],
    [{ valueWords: 1, capacity: 7.5 }, /whole number of slots/],
    [{ valueWords: 1, bytesBudget: 10 }, /give at least 48/],
    [{ valueWords: 1 }, /give bytesBudget/],
    [{ valueWords: 1, capacity: 8, maxLoadFactor: 1 }, /maxLoadFactor must lie between 0 and 1/],
    [{ valueWords: 1.5, capacity: 8 }, /valueWords must be a whole number/],
  ])('rejects %o', (options, message) => {
    expect(() => new OffHeapTable(options)).toThrow(message);
  });

  it('rejects a value with too few words', () => {
    const table = new OffHeapTable({ capacity: 8, valueWords: 2 });
    expect(() => {
      table.set(0, 0, 0, 0, [1]);
    }).toThrow('set needs 2 value words, got 1');
  });
});
