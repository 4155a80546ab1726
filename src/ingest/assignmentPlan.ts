/** What a member tells the group when it joins (from its subscription user data). */
export interface MemberClaim {
  readonly memberId: string;
  /** Partitions it owned in the generation that ended (it is still applying them: moving one costs a hand-over). */
  readonly owned: readonly number[];
  /** Partitions whose state it still holds on disk (owned earlier, kept for a grace period): cheap to restore there. */
  readonly held: readonly number[];
}

/** A claim with its numbers checked and deduplicated, merged over every claim under one memberId. */
interface CleanClaim {
  readonly memberId: string;
  readonly owned: Set<number>;
  readonly held: Set<number>;
}

/**
 * Which member gets each partition number 0..partitionCount-1: every member gets an entry (its list sorted
 * ascending, maybe empty), list sizes differ by at most one, and as few partitions leave a member that owned them
 * as that balance allows, because each move costs a hand-over. Pure, so the kafkajs assigner stays a thin adapter.
 *
 * Every tie is broken by memberId (code-unit order, as `Array.prototype.sort`), never by the order of `members`:
 * - A partition two members list in `owned` (possible after a split) stays with the one that owns fewer in all,
 *   the likelier to have room for it; ties: the lowest memberId. The other counts it as `held`: its state is
 *   on that disk too, so it is the next best home if the partition must move.
 * - The partitionCount mod members larger quotas go to the members that own the most, so they keep the most;
 *   ties: the lowest memberId.
 * - A member over its quota releases first the partitions that a member with room holds, so they land where
 *   their state is; within each group, the highest numbers first.
 * - A partition that moves goes to a member with room that holds it (the one with the fewest partitions so far
 *   if several do), else to the member with room that has the fewest partitions so far; ties: the lowest
 *   memberId.
 * Numbers out of range, not integers or repeated are ignored; claims sharing a memberId are merged.
 */
export function planAssignment(
  members: readonly MemberClaim[],
  partitionCount: number,
): Map<string, number[]> {
  if (!Number.isSafeInteger(partitionCount) || partitionCount < 0) {
    throw new RangeError(
      `partitionCount must be a whole number of partitions (0 or more), got ${partitionCount}`,
    );
  }
  const claims = cleanClaims(members, partitionCount);
  if (claims.length === 0) return new Map();

  // Member indices follow memberId order, so comparing indices breaks ties by memberId.
  const holders: number[][] = Array.from({ length: partitionCount }, () => []);
  claims.forEach(({ held }, member) => {
    for (const partition of held) holders[partition]?.push(member);
  });
  const owner = new Array<number>(partitionCount).fill(-1);
  claims.forEach(({ owned }, member) => {
    for (const partition of owned) {
      const rival = owner[partition] ?? -1;
      // The rival has the lower index, so it wins a tie in owned count.
      const rivalWins = rival !== -1 && (claims[rival]?.owned.size ?? 0) <= owned.size;
      owner[partition] = rivalWins ? rival : member;
      if (rival !== -1) holders[partition]?.push(rivalWins ? member : rival);
    }
  });
  const ownedBy: number[][] = claims.map(() => []);
  owner.forEach((member, partition) => {
    if (member !== -1) ownedBy[member]?.push(partition);
  });

  const quotas = quotasFor(ownedBy, partitionCount);
  const count = ownedBy.map((owned, member) => Math.min(owned.length, quotas[member] ?? 0));
  const hasRoom = (member: number): boolean => (count[member] ?? 0) < (quotas[member] ?? 0);

  // Counts already hold what each member keeps, so "room" here is room left after keeping.
  ownedBy.forEach((owned, member) => {
    const excess = owned.length - (quotas[member] ?? 0);
    if (excess <= 0) return;
    const heldByRoom = (partition: number): boolean => (holders[partition] ?? []).some(hasRoom);
    const highestFirst = owned.toReversed();
    const releaseOrder = [
      ...highestFirst.filter(heldByRoom),
      ...highestFirst.filter((partition) => !heldByRoom(partition)),
    ];
    for (const partition of releaseOrder.slice(0, excess)) owner[partition] = -1;
  });

  for (let partition = 0; partition < partitionCount; partition++) {
    if (owner[partition] !== -1) continue;
    let best = -1;
    for (const member of holders[partition] ?? []) {
      if (!hasRoom(member)) continue;
      const fewer = best === -1 || (count[member] ?? 0) < (count[best] ?? 0);
      if (fewer || ((count[member] ?? 0) === (count[best] ?? 0) && member < best)) best = member;
    }
    if (best === -1) continue;
    owner[partition] = best;
    count[best] = (count[best] ?? 0) + 1;
  }

  const slots = fillOrder(count, quotas);
  let slot = 0;
  for (let partition = 0; partition < partitionCount; partition++) {
    if (owner[partition] === -1) owner[partition] = slots[slot++] ?? -1;
  }

  const plan = new Map<string, number[]>(claims.map(({ memberId }) => [memberId, []]));
  owner.forEach((member, partition) => {
    plan.get(claims[member]?.memberId ?? '')?.push(partition);
  });
  return plan;
}

function cleanClaims(members: readonly MemberClaim[], partitionCount: number): CleanClaim[] {
  const isPartition = (value: number): boolean =>
    Number.isInteger(value) && value >= 0 && value < partitionCount;
  const byId = new Map<string, CleanClaim>();
  for (const { memberId, owned, held } of members) {
    let claim = byId.get(memberId);
    if (claim === undefined) {
      claim = { memberId, owned: new Set(), held: new Set() };
      byId.set(memberId, claim);
    }
    for (const partition of owned) if (isPartition(partition)) claim.owned.add(partition);
    for (const partition of held) if (isPartition(partition)) claim.held.add(partition);
  }
  return [...byId.values()].sort((a, b) => (a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0));
}

/** floor(n/m) each, plus one for the n mod m members that own the most (ties: lower index), to keep the most. */
function quotasFor(ownedBy: readonly (readonly number[])[], partitionCount: number): number[] {
  const base = Math.floor(partitionCount / ownedBy.length);
  const quotas = ownedBy.map(() => base);
  const mostOwnedFirst = ownedBy
    .map((owned, member) => ({ member, size: owned.length }))
    .sort((a, b) => b.size - a.size || a.member - b.member);
  for (const { member } of mostOwnedFirst.slice(0, partitionCount % ownedBy.length)) {
    quotas[member] = base + 1;
  }
  return quotas;
}

/**
 * The members that receive the remaining partitions, in order: handing each to the member with room that has the
 * fewest so far (ties: lower index) picks the slots (level, member) with count <= level < quota in ascending order,
 * so listing them level by level gives the same sequence without a heap, in O(n + m).
 */
function fillOrder(count: readonly number[], quotas: readonly number[]): number[] {
  const slots: number[] = [];
  const top = Math.max(...quotas);
  for (let level = 0; level < top; level++) {
    count.forEach((has, member) => {
      if (has <= level && level < (quotas[member] ?? 0)) slots.push(member);
    });
  }
  return slots;
}
