import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ENTRY_WORDS } from '../../src/projection/compact/countedIds.ts';
import { MentionIndex } from '../../src/projection/compact/mentionIndex.ts';

/** A message id's words: a few high words, so that messages share one and differ in the low word. */
const message = fc.tuple(fc.nat(2), fc.constantFrom(0, 1, 7, 0xfffffffe, 0xffffffff));
const members = fc.uniqueArray(fc.nat(40), { maxLength: 6 });

/** The model: each message's members, in member order; absent when none. */
type Model = Map<string, { hi: number; lo: number; members: number[] }>;

function listed(index: MentionIndex): { hi: number; lo: number; members: number[] }[] {
  const lists: { hi: number; lo: number; members: number[] }[] = [];
  index.forEachMessage((hi, lo, list) => lists.push({ hi, lo, members: [...list] }));
  return lists;
}

function modelled(model: Model): { hi: number; lo: number; members: number[] }[] {
  return [...model.values()].sort((a, b) => (a.hi !== b.hi ? a.hi - b.hi : a.lo - b.lo));
}

describe('MentionIndex', () => {
  it('answers each message with the members last added or set for it, in member order, as a map of lists does', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(message, members), { maxLength: 80 }), (steps) => {
        const index = new MentionIndex(4);
        const model: Model = new Map();
        const seen = new Set<string>();
        for (const [[hi, lo], list] of steps) {
          // A message's first list, as a message_sent gives it, is added; later ones (edits) are set.
          if (seen.has(`${hi}:${lo}`) || list.length % 2 === 1) index.set(hi, lo, list);
          else index.add(hi, lo, list);
          seen.add(`${hi}:${lo}`);
          const sorted = [...list].sort((a, b) => a - b);
          if (sorted.length === 0) model.delete(`${hi}:${lo}`);
          else model.set(`${hi}:${lo}`, { hi, lo, members: sorted });
          expect(index.membersOf(hi, lo)).toEqual(sorted);
        }
        for (const { hi, lo, members: list } of model.values()) expect(index.membersOf(hi, lo)).toEqual(list);
        expect(listed(index)).toEqual(modelled(model));
        // Every pair ever set stays as a key, live or taken away.
        const pairs = new Set(steps.flatMap(([[hi, lo], list]) => list.map((m) => `${hi}:${lo}:${m}`)));
        expect(index.size).toBe(pairs.size);
      }),
    );
  });

  it('reads back what it listed, filled in key order', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(message, members), { maxLength: 40 }), (steps) => {
        const index = new MentionIndex(4);
        for (const [[hi, lo], list] of steps) index.set(hi, lo, list);
        const lists = listed(index);
        const pairs = lists.flatMap(({ hi, lo, members: list }) => list.map((m) => [hi, lo, m, 1]));
        const entries = new Uint32Array(pairs.length * ENTRY_WORDS);
        pairs.forEach((pair, i) => {
          entries.set(pair, i * ENTRY_WORDS);
        });
        const copy = new MentionIndex(4);
        copy.fill(entries, pairs.length);
        expect(listed(copy)).toEqual(lists);
        for (const { hi, lo, members: list } of lists) expect(copy.membersOf(hi, lo)).toEqual(list);
      }),
    );
  });
});
