import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { countAbove, deleteKey, insertKey, type RankIndexHeader } from '../../src/projection/rankIndex.ts';
import { createMapRankNodes, rankIndexKeys } from '../support/rankIndexInvariants.ts';

type Op =
  | { kind: 'insert'; key: number }
  | { kind: 'append'; gap: number }
  | { kind: 'delete'; pick: number }
  | { kind: 'deleteRun'; pick: number; length: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('insert' as const), key: fc.nat(400) }), weight: 4 },
  { arbitrary: fc.record({ kind: fc.constant('append' as const), gap: fc.nat(3) }), weight: 4 },
  { arbitrary: fc.record({ kind: fc.constant('delete' as const), pick: fc.nat() }), weight: 3 },
  {
    arbitrary: fc.record({ kind: fc.constant('deleteRun' as const), pick: fc.nat(), length: fc.nat(20) }),
    weight: 1,
  },
);

/** The model: a sorted array of numbers. Keys are their decimal strings, so order crosses digit lengths. */
function applyToModel(model: number[], operation: Op): { insert?: number; remove?: number[] } {
  switch (operation.kind) {
    case 'insert':
      return model.includes(operation.key) ? {} : { insert: operation.key };
    case 'append':
      return { insert: (model.at(-1) ?? 0) + 1 + operation.gap };
    case 'delete':
      return model.length === 0 ? {} : { remove: [model[operation.pick % model.length] ?? 0] };
    case 'deleteRun': {
      if (model.length === 0) return {};
      const start = operation.pick % model.length;
      return { remove: model.slice(start, start + operation.length) };
    }
  }
}

describe('rank index', () => {
  it.each([4, 5, 8])(
    'answers like a sorted array through random inserts, appends and deletes (fanout %i)',
    (fanout) => {
      fc.assert(
        fc.property(
          fc.array(op, { maxLength: 150, size: 'max' }),
          fc.array(fc.nat(420), { maxLength: 8 }),
          (ops, probes) => {
            const nodes = createMapRankNodes(fanout);
            let header: RankIndexHeader | null = null;
            const model: number[] = [];
            for (const operation of ops) {
              const { insert, remove = [] } = applyToModel(model, operation);
              if (insert !== undefined) {
                header = insertKey(nodes, header, String(insert));
                model.push(insert);
                model.sort((a, b) => a - b);
              }
              for (const key of remove) {
                if (header === null) throw new Error('the model has keys the index lost');
                header = deleteKey(nodes, header, String(key));
                model.splice(model.indexOf(key), 1);
              }
              expect(rankIndexKeys(nodes, header, nodes.map.keys())).toEqual(model.map(String));
              for (const probe of [...probes, ...remove, insert ?? 0]) {
                expect(countAbove(nodes, header, String(probe))).toBe(
                  model.filter((key) => key > probe).length,
                );
              }
            }
          },
        ),
        { numRuns: 300 },
      );
    },
    30_000,
  );

  it('keeps appends in the header until the tail overflows, then moves one full leaf', () => {
    const nodes = createMapRankNodes(4);
    let header: RankIndexHeader | null = null;
    for (const key of ['1', '2', '3', '4']) header = insertKey(nodes, header, key);
    expect(nodes.map.size).toBe(0);
    expect(header?.tail).toEqual(['1', '2', '3', '4']);
    header = insertKey(nodes, header, '5');
    expect(header.tail).toEqual(['5']);
    expect(nodes.map.size).toBe(1);
    expect(rankIndexKeys(nodes, header, nodes.map.keys())).toEqual(['1', '2', '3', '4', '5']);
  });

  it('grows and shrinks through several levels and leaves no node behind', () => {
    const nodes = createMapRankNodes(4);
    let header: RankIndexHeader | null = null;
    const keys = Array.from({ length: 300 }, (_, i) => String((i * 7919) % 1000));
    for (const key of keys) header = insertKey(nodes, header, key);
    expect(header?.height).toBeGreaterThanOrEqual(4);
    expect(rankIndexKeys(nodes, header, nodes.map.keys())).toEqual(
      [...keys].sort((a, b) => Number(a) - Number(b)),
    );
    for (const key of keys) {
      if (header === null) throw new Error('emptied too early');
      header = deleteKey(nodes, header, key);
    }
    expect(header).toBeNull();
    expect(nodes.map.size).toBe(0);
  });

  it('refuses a key twice and a key it does not hold', () => {
    const nodes = createMapRankNodes(4);
    let header = insertKey(nodes, null, '10');
    expect(() => insertKey(nodes, header, '10')).toThrow(/already present/);
    for (const key of ['1', '2', '3', '4', '5', '6']) header = insertKey(nodes, header, key);
    expect(() => insertKey(nodes, header, '3')).toThrow(/already present/);
    expect(() => deleteKey(nodes, header, '7')).toThrow(/not present/);
    expect(() => deleteKey(nodes, header, '0')).toThrow(/not present/);
  });

  it('counts above keys outside the range', () => {
    const nodes = createMapRankNodes(4);
    let header: RankIndexHeader | null = null;
    expect(countAbove(nodes, header, '0')).toBe(0);
    for (let key = 10; key < 40; key++) header = insertKey(nodes, header, String(key));
    expect(countAbove(nodes, header, '0')).toBe(30);
    expect(countAbove(nodes, header, '9')).toBe(30);
    expect(countAbove(nodes, header, '39')).toBe(0);
    expect(countAbove(nodes, header, '18446744073709551615')).toBe(0);
  });
});
