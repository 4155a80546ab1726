import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RecencyList, type RecencyLinks } from '../../src/store/recencyList.ts';

interface Entry extends RecencyLinks<Entry> {
  readonly name: number;
}

function entry(name: number): Entry {
  return { name, older: undefined, newer: undefined, listed: false };
}

/** The list's entries from the oldest, by following the links both ways (they must agree). */
function names(list: RecencyList<Entry>): number[] {
  const forward: number[] = [];
  let last: Entry | undefined;
  for (let at = list.oldest; at !== undefined; at = at.newer) {
    forward.push(at.name);
    last = at;
  }
  const backward: number[] = [];
  for (let at = last; at !== undefined; at = at.older) backward.unshift(at.name);
  expect(backward).toEqual(forward);
  return forward;
}

describe('RecencyList', () => {
  it('orders entries as an array moved to the end on each use does, through any touches and deletes', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom('touch', 'delete', 'evict'), fc.nat(7)), { maxLength: 60 }),
        (steps) => {
          const entries = Array.from({ length: 8 }, (_, name) => entry(name));
          const list = new RecencyList<Entry>();
          let model: number[] = [];
          for (const [step, name] of steps) {
            const chosen = entries[name] as Entry;
            if (step === 'touch') {
              list.touch(chosen);
              model = [...model.filter((n) => n !== name), name];
            } else if (step === 'delete') {
              expect(list.delete(chosen)).toBe(model.includes(name));
              model = model.filter((n) => n !== name);
            } else {
              const oldest = list.oldest;
              expect(oldest?.name).toBe(model[0]);
              if (oldest !== undefined) list.delete(oldest);
              model = model.slice(1);
            }
            expect(names(list)).toEqual(model);
            expect(list.size).toBe(model.length);
            for (const e of entries) expect(e.listed).toBe(model.includes(e.name));
          }
        },
      ),
    );
  });
});
