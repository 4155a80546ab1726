import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { planAssignment, type MemberClaim } from '../../src/ingest/assignmentPlan.ts';

const claim = (
  memberId: string,
  owned: readonly number[] = [],
  held: readonly number[] = [],
): MemberClaim => ({
  memberId,
  owned,
  held,
});

/** partition -> memberId, read back from a plan. */
function ownersOf(plan: ReadonlyMap<string, readonly number[]>): Map<number, string> {
  const owners = new Map<number, string>();
  for (const [memberId, partitions] of plan)
    for (const partition of partitions) owners.set(partition, memberId);
  return owners;
}

const byId = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const sizeOf = (plan: ReadonlyMap<string, readonly number[]>, memberId: string): number =>
  plan.get(memberId)?.length ?? 0;

const memberIds = fc.uniqueArray(fc.string({ minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 12 });

/** Numbers a claim may carry, some of them invalid (out of range, fractional, not finite). */
const claimedNumber = (partitionCount: number): fc.Arbitrary<number> =>
  fc.oneof(
    { arbitrary: fc.nat(Math.max(0, partitionCount - 1)), weight: 8 },
    {
      arbitrary: fc.constantFrom(-1, partitionCount, partitionCount + 3, 0.5, Number.NaN, Infinity),
      weight: 1,
    },
  );

/** Any claims at all: contested, invalid or repeated numbers, and memberIds that repeat. */
const anyClaims = fc.nat(40).chain((partitionCount) =>
  fc.record({
    partitionCount: fc.constant(partitionCount),
    members: fc.array(
      fc.record({
        memberId: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'B', 'aa'),
        owned: fc.array(claimedNumber(partitionCount), { maxLength: 20 }),
        held: fc.array(claimedNumber(partitionCount), { maxLength: 20 }),
      }),
      { maxLength: 9 },
    ),
  }),
);

/** Claims whose `owned` lists are disjoint; some partitions belong to no member (their owner left). */
const disjointClaims = fc
  .record({ partitionCount: fc.nat(60), ids: memberIds })
  .chain(({ partitionCount, ids }) =>
    fc.record({
      partitionCount: fc.constant(partitionCount),
      ids: fc.constant(ids),
      ownerIndex: fc.array(fc.integer({ min: -1, max: ids.length + 1 }), {
        minLength: partitionCount,
        maxLength: partitionCount,
      }),
      held: fc.array(fc.array(fc.nat(partitionCount + 1), { maxLength: 10 }), {
        minLength: ids.length,
        maxLength: ids.length,
      }),
    }),
  )
  .map(({ partitionCount, ids, ownerIndex, held }) => ({
    partitionCount,
    members: ids.map((memberId, index) =>
      claim(
        memberId,
        ownerIndex.flatMap((owner, partition) => (owner === index ? [partition] : [])),
        held[index] ?? [],
      ),
    ),
  }));

/** A balanced, valid assignment: partitions shuffled, then dealt round-robin in a random member order. */
const balancedGroup = fc
  .record({ partitionCount: fc.nat(80), ids: memberIds })
  .chain(({ partitionCount, ids }) =>
    fc.record({
      partitionCount: fc.constant(partitionCount),
      ids: fc.constant(ids),
      shuffle: fc.array(fc.double({ noNaN: true }), { minLength: partitionCount, maxLength: partitionCount }),
    }),
  )
  .map(({ partitionCount, ids, shuffle }) => {
    const order = [...Array(partitionCount).keys()].sort(
      (a, b) => (shuffle[a] ?? 0) - (shuffle[b] ?? 0) || a - b,
    );
    const owned = ids.map((): number[] => []);
    order.forEach((partition, position) => owned[position % ids.length]?.push(partition));
    return {
      partitionCount,
      members: ids.map((memberId, index) =>
        claim(
          memberId,
          (owned[index] ?? []).sort((a, b) => a - b),
        ),
      ),
    };
  });

/** The most partitions any balanced plan can leave with their owners, given disjoint `owned` lists. */
function mostKeepable(ownedCounts: readonly number[], partitionCount: number): number {
  const base = Math.floor(partitionCount / ownedCounts.length);
  const larger = partitionCount % ownedCounts.length;
  return [...ownedCounts]
    .sort((a, b) => b - a)
    .reduce((kept, owned, rank) => kept + Math.min(owned, base + (rank < larger ? 1 : 0)), 0);
}

describe('planAssignment: worked examples', () => {
  const fresh = [claim('a'), claim('b'), claim('c')];
  const settled = [claim('a', [0, 3]), claim('b', [1, 4]), claim('c', [2, 5])];

  it('deals a fresh group of 3 its 6 partitions round-robin in memberId order', () => {
    expect(planAssignment(fresh, 6)).toEqual(
      new Map([
        ['a', [0, 3]],
        ['b', [1, 4]],
        ['c', [2, 5]],
      ]),
    );
  });

  it('keeps a settled group exactly as it is', () => {
    expect(planAssignment(settled, 6)).toEqual(
      new Map([
        ['a', [0, 3]],
        ['b', [1, 4]],
        ['c', [2, 5]],
      ]),
    );
  });

  it("moves only a dead member's partitions, to the survivors by count, or to one that holds their state", () => {
    expect(planAssignment(settled.slice(0, 2), 6)).toEqual(
      new Map([
        ['a', [0, 2, 3]],
        ['b', [1, 4, 5]],
      ]),
    );
    expect(planAssignment([claim('a', [0, 3]), claim('b', [1, 4], [2])], 6)).toEqual(
      new Map([
        ['a', [0, 3, 5]],
        ['b', [1, 2, 4]],
      ]),
    );
  });

  it('gives a joining member one partition released by the member the tie-break left over quota', () => {
    // Quotas 2, 2, 1, 1: the larger go to a and b (all own 2; lowest memberIds), so c releases its highest.
    expect(planAssignment([...settled, claim('d')], 6)).toEqual(
      new Map([
        ['a', [0, 3]],
        ['b', [1, 4]],
        ['c', [2]],
        ['d', [5]],
      ]),
    );
  });

  it('has an over-quota member release the partition whose state the joining member holds', () => {
    expect(planAssignment([...settled, claim('d', [], [2])], 6)).toEqual(
      new Map([
        ['a', [0, 3]],
        ['b', [1, 4]],
        ['c', [5]],
        ['d', [2]],
      ]),
    );
  });

  it('leaves a partition two members own with the one that owns fewer, the other next in line', () => {
    expect(planAssignment([claim('a', [0, 1, 2]), claim('b', [2, 3])], 4)).toEqual(
      new Map([
        ['a', [0, 1]],
        ['b', [2, 3]],
      ]),
    );
    // A tie in owned count goes to the lowest memberId.
    expect(planAssignment([claim('b', [1, 2]), claim('a', [0, 1])], 4)).toEqual(
      new Map([
        ['a', [0, 1]],
        ['b', [2, 3]],
      ]),
    );
    // b owns fewer, so it keeps 0, 1 and 2, but its quota is 2: it releases 2, and a, whose disk still has 2, gets it.
    expect(planAssignment([claim('a', [0, 1, 2, 3]), claim('b', [0, 1, 2])], 4)).toEqual(
      new Map([
        ['a', [2, 3]],
        ['b', [0, 1]],
      ]),
    );
  });

  it('ignores numbers out of range, fractional or repeated', () => {
    // a owns just 2 (as many as b), so it wins 2 on memberId; then the fewest-so-far rule deals 0 to b.
    expect(planAssignment([claim('a', [-1, 1.5, 7, Number.NaN, 2, 2], [9]), claim('b', [2])], 4)).toEqual(
      new Map([
        ['a', [1, 2]],
        ['b', [0, 3]],
      ]),
    );
  });

  it('returns nothing for no members, and an empty list each for no partitions', () => {
    expect(planAssignment([], 10)).toEqual(new Map());
    expect(planAssignment([claim('a', [0]), claim('b')], 0)).toEqual(
      new Map([
        ['a', []],
        ['b', []],
      ]),
    );
  });

  it('refuses a partition count that is not a whole number', () => {
    expect(() => planAssignment(fresh, 2.5)).toThrow(/partitionCount/);
    expect(() => planAssignment(fresh, -1)).toThrow(/partitionCount/);
  });

  it('plans 10,000 partitions over 300 members with heavy claims in well under a second', () => {
    const members = Array.from({ length: 300 }, (_, index) =>
      claim(
        `member-${index}`,
        Array.from({ length: 40 }, (_, k) => (index * 37 + k * 251) % 10_000),
        Array.from({ length: 200 }, (_, k) => (index * 53 + k * 97) % 10_000),
      ),
    );
    const plan = planAssignment(members, 10_000);
    expect(ownersOf(plan).size).toBe(10_000);
  }, 1_000);
});

describe('planAssignment: properties', () => {
  it('gives every partition to exactly one member, lists every member once, each list sorted (rule 1)', () => {
    fc.assert(
      fc.property(anyClaims, ({ members, partitionCount }) => {
        const plan = planAssignment(members, partitionCount);
        const ids = [...new Set(members.map(({ memberId }) => memberId))].sort(byId);
        expect([...plan.keys()].sort(byId)).toEqual(ids);
        const all = [...plan.values()].flat().sort((a, b) => a - b);
        expect(all).toEqual(ids.length === 0 ? [] : [...Array(partitionCount).keys()]);
        for (const partitions of plan.values()) {
          expect(partitions).toEqual([...partitions].sort((a, b) => a - b));
        }
      }),
      { numRuns: 500 },
    );
  });

  it('balances: sizes are floor(n/m) or ceil(n/m), and exactly n mod m members get the larger (rule 2)', () => {
    fc.assert(
      fc.property(anyClaims, ({ members, partitionCount }) => {
        const plan = planAssignment(members, partitionCount);
        fc.pre(plan.size > 0);
        const base = Math.floor(partitionCount / plan.size);
        const sizes = [...plan.values()].map((partitions) => partitions.length);
        expect(sizes.every((size) => size === base || size === base + 1)).toBe(true);
        expect(sizes.filter((size) => size === base + 1).length).toBe(partitionCount % plan.size);
      }),
      { numRuns: 500 },
    );
  });

  it('moves the fewest owned partitions any balanced plan could, and each member keeps all it can (rule 3)', () => {
    fc.assert(
      fc.property(disjointClaims, ({ members, partitionCount }) => {
        const plan = planAssignment(members, partitionCount);
        const owners = ownersOf(plan);
        let kept = 0;
        for (const { memberId, owned } of members) {
          const keeps = owned.filter((partition) => owners.get(partition) === memberId).length;
          expect(keeps).toBe(Math.min(owned.length, sizeOf(plan, memberId)));
          kept += keeps;
        }
        const ownedCounts = members.map(({ owned }) => owned.length);
        expect(kept).toBe(mostKeepable(ownedCounts, partitionCount));
      }),
      { numRuns: 500 },
    );
  });

  it('gives the larger quotas to the members that own more, ties to the lowest memberId (rule 3)', () => {
    fc.assert(
      fc.property(disjointClaims, ({ members, partitionCount }) => {
        const plan = planAssignment(members, partitionCount);
        for (const small of members) {
          for (const large of members) {
            if (sizeOf(plan, small.memberId) >= sizeOf(plan, large.memberId)) continue;
            const ownsMore = large.owned.length > small.owned.length;
            const winsTie = large.owned.length === small.owned.length && large.memberId < small.memberId;
            expect(ownsMore || winsTie).toBe(true);
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('lets a member keep all its uncontested partitions that fit its quota, however claims collide (rule 3)', () => {
    fc.assert(
      fc.property(anyClaims, ({ members, partitionCount }) => {
        const plan = planAssignment(members, partitionCount);
        const owners = ownersOf(plan);
        const claimants = new Map<number, Set<string>>();
        for (const { memberId, owned } of members) {
          for (const partition of owned)
            claimants.set(partition, (claimants.get(partition) ?? new Set()).add(memberId));
        }
        for (const memberId of plan.keys()) {
          const owned = new Set(members.filter((m) => m.memberId === memberId).flatMap((m) => m.owned));
          // Invalid numbers never reach `owners`, so counting them here would only fail the check wrongly.
          const valid = (partition: number): boolean =>
            Number.isInteger(partition) && partition >= 0 && partition < partitionCount;
          const uncontested = [...owned].filter(
            (partition) => valid(partition) && claimants.get(partition)?.size === 1,
          );
          const keeps = [...owned].filter((partition) => owners.get(partition) === memberId).length;
          expect(keeps).toBeGreaterThanOrEqual(Math.min(uncontested.length, sizeOf(plan, memberId)));
        }
      }),
      { numRuns: 500 },
    );
  });

  it('returns a balanced, unchanged group its assignment exactly: nothing moves (rule 3c)', () => {
    fc.assert(
      fc.property(balancedGroup, ({ members, partitionCount }) => {
        const plan = planAssignment(members, partitionCount);
        expect(plan).toEqual(new Map(members.map(({ memberId, owned }) => [memberId, owned])));
      }),
      { numRuns: 300 },
    );
  });

  it('moves only the partitions of a member that leaves a balanced group (rule 3a)', () => {
    fc.assert(
      fc.property(balancedGroup, fc.nat(), ({ members, partitionCount }, pick) => {
        const leaver = members[pick % members.length];
        fc.pre(leaver !== undefined && members.length > 1);
        const owners = ownersOf(
          planAssignment(
            members.filter((member) => member !== leaver),
            partitionCount,
          ),
        );
        for (const { memberId, owned } of members) {
          if (memberId === leaver.memberId) continue;
          for (const partition of owned) expect(owners.get(partition)).toBe(memberId);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('moves exactly the excess over the new quotas when a member joins a balanced group, all to it (rule 3b)', () => {
    fc.assert(
      fc.property(
        balancedGroup,
        fc.string({ minLength: 1, maxLength: 3 }),
        ({ members, partitionCount }, newId) => {
          fc.pre(members.every(({ memberId }) => memberId !== newId));
          const plan = planAssignment([...members, claim(newId)], partitionCount);
          const owners = ownersOf(plan);
          let moved = 0;
          for (const { memberId, owned } of members) {
            for (const partition of owned) {
              if (owners.get(partition) === memberId) continue;
              moved += 1;
              expect(owners.get(partition)).toBe(newId);
            }
          }
          const excess = members.reduce(
            (sum, { memberId, owned }) => sum + Math.max(0, owned.length - sizeOf(plan, memberId)),
            0,
          );
          expect(moved).toBe(excess);
          expect(sizeOf(plan, newId)).toBe(excess);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('hands a joining member the partitions that must move and whose state it holds (rule 4)', () => {
    fc.assert(
      fc.property(
        balancedGroup,
        fc.string({ minLength: 1, maxLength: 3 }),
        fc.array(fc.nat(80), { maxLength: 40 }),
        ({ members, partitionCount }, newId, held) => {
          fc.pre(members.every(({ memberId }) => memberId !== newId));
          const plan = planAssignment([...members, claim(newId, [], held)], partitionCount);
          const holds = new Set(held);
          // Each old member must release its excess; it releases what the newcomer holds first.
          const expected = members.reduce(
            (sum, { memberId, owned }) =>
              sum +
              Math.min(
                Math.max(0, owned.length - sizeOf(plan, memberId)),
                owned.filter((partition) => holds.has(partition)).length,
              ),
            0,
          );
          const received = plan.get(newId) ?? [];
          expect(received.filter((partition) => holds.has(partition)).length).toBe(expected);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('sends an orphaned partition to a member with room that holds its state (rule 4)', () => {
    fc.assert(
      fc.property(balancedGroup, fc.nat(), fc.nat(), ({ members, partitionCount }, pickLeaver, pickHeir) => {
        fc.pre(members.length > 1);
        const leaver = members[pickLeaver % members.length];
        const survivors = members.filter((member) => member !== leaver);
        const heir = survivors[pickHeir % survivors.length];
        const orphan = leaver?.owned[0];
        fc.pre(heir !== undefined && orphan !== undefined);
        const heirHeld = survivors.map((member) =>
          member === heir ? claim(member.memberId, member.owned, [orphan]) : member,
        );
        const plan = planAssignment(heirHeld, partitionCount);
        // The heir has room exactly when the plan gave it more than it owned.
        if (sizeOf(plan, heir.memberId) > heir.owned.length)
          expect(plan.get(heir.memberId)).toContain(orphan);
      }),
      { numRuns: 300 },
    );
  });

  it('does not depend on the order of members (rule 5)', () => {
    const shuffled = anyClaims.chain(({ members, partitionCount }) =>
      fc.record({
        members: fc.constant(members),
        partitionCount: fc.constant(partitionCount),
        permuted: fc.shuffledSubarray(members, { minLength: members.length, maxLength: members.length }),
      }),
    );
    fc.assert(
      fc.property(shuffled, ({ members, partitionCount, permuted }) => {
        const plan = planAssignment(members, partitionCount);
        expect(planAssignment(permuted, partitionCount)).toEqual(plan);
        expect([...planAssignment(permuted, partitionCount).keys()]).toEqual([...plan.keys()]);
      }),
      { numRuns: 500 },
    );
  });
});
