import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CountedIds, ENTRY_WORDS } from '../../src/projection/compact/countedIds.ts';
import { WordArena } from '../../src/projection/compact/wordArena.ts';

describe('WordArena', () => {
  it('hands out zeroed views that never overlap, and arrays of their own once it runs out', () => {
    fc.assert(
      fc.property(fc.nat(64), fc.array(fc.nat(24), { maxLength: 12 }), (size, lengths) => {
        const arena = new WordArena(size);
        const taken = lengths.map((length) => arena.take(length));
        let used = 0;
        taken.forEach((view, i) => {
          expect(view.length).toBe(lengths[i]);
          expect(view.every((word) => word === 0)).toBe(true);
          if (used + view.length <= size) used += view.length;
          // Mark every word: a view sharing a word with another would read another's mark below.
          view.fill(i + 1);
        });
        taken.forEach((view, i) => {
          expect(view.every((word) => word === i + 1)).toBe(true);
        });
        expect(arena.left).toBe(size - used);
      }),
    );
  });

  it('is exactly what fill takes: sets filled from one arena hold their keys and leave none of it', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 4, max: 16 }),
        fc.array(fc.uniqueArray(fc.nat(10_000), { maxLength: 80 }), { minLength: 1, maxLength: 4 }),
        (blockSize, keysOfSets) => {
          const sets = keysOfSets.map((keys) => ({
            set: new CountedIds(blockSize),
            keys: keys.toSorted((a, b) => a - b),
          }));
          let words = 0;
          for (const { set, keys } of sets) words += set.fillWords(keys.length);
          const arena = new WordArena(words);
          for (const { set, keys } of sets) {
            const entries = new Uint32Array(keys.length * ENTRY_WORDS);
            keys.forEach((key, k) => {
              entries.set([0, 0, key, 1], k * ENTRY_WORDS);
            });
            set.fill(entries, keys.length, arena);
          }
          expect(arena.left).toBe(0);
          // Growing past the room a fill left moves a block out of the arena, not over the next set's blocks.
          const added = 2 * blockSize;
          for (const { set } of sets) {
            for (let key = 10_001; key <= 10_000 + added; key++) set.insert(0, 0, key, true);
          }
          for (const { set, keys } of sets) {
            expect(set.liveCount).toBe(keys.length + added);
            keys.forEach((key, k) => {
              expect(set.liveAbove(0, 0, key)).toBe(keys.length - k - 1 + added);
            });
          }
        },
      ),
    );
  });
});
