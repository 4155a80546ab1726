import type { Snowflake } from '../../contract/snowflake.ts';
import { formatSnowflakeWords, parseSnowflakeInto } from '../../contract/snowflakeWords.ts';
import { ABSENT, CountedIds, fillWords, LIVE, type BlockSpill } from './countedIds.ts';
import { MentionIndex } from './mentionIndex.ts';
import type { WordArena } from './wordArena.ts';

/**
 * Member flags. LISTED: the store has written the key that lists this read state under its user. JOINED, LEFT:
 * the member's latest membership event (by its time); FLOORED: that join's floor lies above id 0.
 */
export const HAS_READ_STATE = 1;
export const HAS_POINTER = 2;
export const LISTED = 4;
export const JOINED = 8;
export const LEFT = 16;
export const FLOORED = 32;
const MEMBERSHIP = JOINED | LEFT;
/**
 * Up to this many members a channel finds one by scanning their id words (a cache line or two); above, by a map
 * made then. A string-keyed map costs a few cache misses a lookup (its table, its entry, the stored key's
 * characters): the projection looks a member up for every event.
 */
const SCANNED_MEMBERS = 16;
/** Scratch: the words of the user id being looked up. */
const wanted = new Uint32Array(2);
/**
 * What a channel without any answers for its maps and set, until it gets its first entry: most channels never
 * see an edit or a pending mention, and an empty Map is two objects for the collector to trace, per channel.
 */
const NO_LISTS: ReadonlyMap<Snowflake, readonly number[]> = new Map();
const NO_TIMES: ReadonlyMap<Snowflake, number> = new Map();
const NO_IDS: ReadonlySet<Snowflake> = new Set();

/** Words per member in a channel's columns, and where each column sits among them. */
const MEMBER_WORDS = 5;
const FLAGS = 0;
const POINTER_HI = 1;
const POINTER_LO = 2;
const USER_HI = 3;
const USER_LO = 4;

/** Members a channel's columns first have room for. */
const FIRST_MEMBERS = 4;
/**
 * A channel's columns until its first member: a channel read back, which lists its members up front, then makes
 * them once at their size, not at FIRST_MEMBERS and again. Nothing writes it: it has room for no member.
 */
const NO_COLUMNS = new Uint32Array(0);

/** A copy of `column` `length` long, the rest zeros. */
function resized<T extends Uint32Array | Float64Array>(column: T, length: number): T {
  const grown = new (column.constructor as new (length: number) => T)(length);
  grown.set(column);
  return grown;
}

/**
 * Everything the projection knows about one channel, mutated in place: every event touches one channel only, so
 * a channel is the unit that is applied, written and evicted together (see compactProjection.ts).
 *
 * - `messages`: every id seen (group 0), live or deleted (a tombstone), each with its author's member number.
 * - Members: anyone who wrote, was mentioned or acked here, numbered in order of first appearance, with their
 *   flags and pointer's words in typed columns.
 * - `own` and `mentioned`: the live ids each member wrote (OWN), or was mentioned in by others (MENTIONS), one
 *   set each for the whole channel, grouped by member number.
 * - `mentionsOf`: the members each live message mentions, for its deletion or edit (mentionIndex.ts).
 *   `editedAt` and `pendingMentions`: what edits left (see compactProjection.ts).
 * - @everyone messages: the live ones in one set (`everyone`, each with its author), and again grouped by author
 *   (`ownEveryone`), both made at the channel's first. Their named mentions are kept in `mentionsOf` but not in
 *   `mentioned`: the message counts for everyone through `everyone` already.
 */
export class ChannelState {
  readonly messages: CountedIds;
  /** Bumped by every change of the live set that is not an append above the head (as records.ts's). */
  epoch = 0;
  /** Member numbers by user id, once there are more than SCANNED_MEMBERS. */
  #members: Map<Snowflake, number> | undefined;
  /**
   * Members so far. Their user ids are kept as words only (the columns): a string per member was a fifth of the
   * objects a channel held for the collector to trace; userId() makes one when a key needs it.
   */
  #memberCount = 0;
  /**
   * Per member, MEMBER_WORDS words from MEMBER_WORDS × m: its flags, its pointer's hi and lo words, its user id's
   * hi and lo words (the hot tier's keys, parsed once). One array, not one per column: a channel's arrays are
   * objects the collector traces, and most channels are small.
   */
  #columns = NO_COLUMNS;
  /**
   * Per member with a membership event: its time in ms, and for a join the greatest id below its floor. Made at
   * the channel's first membership event (1% of events), as long as the other columns from then on.
   */
  #membershipAt: Float64Array | undefined;
  #floors: Uint32Array | undefined;
  readonly own: CountedIds;
  readonly mentioned: CountedIds;
  // The maps and the set below are made at their first entry (NO_LISTS and the rest until then).
  /** Made at the channel's first mention. */
  #mentionIndex: MentionIndex | undefined;
  /** Per message whose mentions an edit set (live, or not sent yet): that edit's edited_at, in ms. */
  #editedAt: Map<Snowflake, number> | undefined;
  #pendingMentions: Map<Snowflake, readonly number[]> | undefined;
  /** Ids in `pendingMentions` whose edit mentions @everyone. */
  #pendingEveryone: Set<Snowflake> | undefined;
  #everyone: CountedIds | undefined;
  #ownEveryone: CountedIds | undefined;
  readonly #blockSize: number | undefined;
  /** Members named across `pendingMentions`: they weigh in the store's budget as mentions do. */
  #pendingMembers = 0;

  constructor(blockSize?: number) {
    this.#blockSize = blockSize;
    this.messages = new CountedIds(blockSize, { solePayloads: true });
    this.own = new CountedIds(blockSize);
    this.mentioned = new CountedIds(blockSize);
  }

  /** Its id sets, those made so far. */
  #sets(): CountedIds[] {
    const sets = [this.messages, this.own, this.mentioned];
    for (const set of [this.#mentionIndex, this.#everyone, this.#ownEveryone])
      if (set !== undefined) sets.push(set);
    return sets;
  }

  /**
   * Parks the blocks of its id sets untouched since tick `before` (CountedIds.parkCold): a channel of a million
   * messages keeps in memory the few blocks its events reach. Returns the keys parked.
   */
  parkColdBlocks(before: number, spill: BlockSpill): number {
    let parked = 0;
    for (const set of this.#sets()) parked += set.parkCold(before, spill);
    return parked;
  }

  /** Keys of its id sets in parked blocks: in the spill, not in memory. */
  get parkedSize(): number {
    let parked = 0;
    for (const set of this.#sets()) parked += set.size - set.residentSize;
    return parked;
  }

  /** The serials its id sets' blocks hold in the spill (CountedIds.collectSerials). */
  spilledSerials(): number[] {
    const serials: number[] = [];
    for (const set of this.#sets()) set.collectSerials(serials);
    return serials;
  }

  /** Appends to `into` the serials of its parked blocks: what its snapshot would read back from the spill. */
  collectParkedSerials(into: number[]): void {
    for (const set of this.#sets()) set.collectSerials(into, true);
  }

  /** The members live message (hi, lo) mentions, in member order; empty when none. */
  mentionsOf(hi: number, lo: number): number[] {
    return this.#mentionIndex?.membersOf(hi, lo) ?? [];
  }

  /** Lists the members a message just sent mentions (nothing is listed for its id yet). */
  addMentionsOf(hi: number, lo: number, members: readonly number[]): void {
    (this.#mentionIndex ??= new MentionIndex(this.#blockSize)).add(hi, lo, members);
  }

  /** Sets the members message (hi, lo) mentions; an empty list takes them away. */
  setMentionsOf(hi: number, lo: number, members: readonly number[]): void {
    if (members.length === 0 && this.#mentionIndex === undefined) return;
    (this.#mentionIndex ??= new MentionIndex(this.#blockSize)).set(hi, lo, members);
  }

  /** Calls `visit` with each message that mentions anyone, in id order, and its members: for a snapshot. */
  forEachMentionList(visit: (hi: number, lo: number, members: readonly number[]) => void): void {
    this.#mentionIndex?.forEachMessage(visit);
  }

  /**
   * Fills the mentions of a channel read back: `count` entries of `entries` (ENTRY_WORDS each: message hi,
   * message lo, member, then 1), strictly ascending; `arena`: as CountedIds.fill's.
   */
  fillMentions(entries: Uint32Array, count: number, arena?: WordArena): void {
    if (count === 0) return;
    if (this.#mentionIndex !== undefined) throw new Error('fillMentions needs a channel without mentions');
    this.#mentionIndex = new MentionIndex(this.#blockSize);
    this.#mentionIndex.fill(entries, count, arena);
  }

  /** The words `fillMentions` takes for `count` entries (CountedIds.fillWords). */
  mentionsFillWords(count: number): number {
    return fillWords(count, this.#blockSize);
  }

  /** Per message whose mentions an edit set (live, or not sent yet): that edit's edited_at, in ms. */
  get editedAt(): ReadonlyMap<Snowflake, number> {
    return this.#editedAt ?? NO_TIMES;
  }

  /** Sets the edited_at (ms) of `messageId`'s latest edit; undefined forgets it (a deleted message). */
  setEditedAt(messageId: Snowflake, editedAt: number | undefined): void {
    if (editedAt === undefined) this.#editedAt?.delete(messageId);
    else (this.#editedAt ??= new Map()).set(messageId, editedAt);
  }

  /** Per id edited before its message_sent came: the members the edit mentions, for that message_sent. */
  get pendingMentions(): ReadonlyMap<Snowflake, readonly number[]> {
    return this.#pendingMentions ?? NO_LISTS;
  }

  /** Ids in `pendingMentions` whose edit mentions @everyone. */
  get pendingEveryone(): ReadonlySet<Snowflake> {
    return this.#pendingEveryone ?? NO_IDS;
  }

  /** Member numbers held by `pendingMentions`, all lists together. */
  get pendingMembers(): number {
    return this.#pendingMembers;
  }

  /** Keeps an edit's mentions for a message not sent yet (`everyone`: the edit mentions @everyone). */
  setPendingMentions(messageId: Snowflake, members: readonly number[], everyone = false): void {
    this.deletePendingMentions(messageId);
    (this.#pendingMentions ??= new Map()).set(messageId, members);
    if (everyone) (this.#pendingEveryone ??= new Set()).add(messageId);
    this.#pendingMembers += members.length;
  }

  /** Removes and returns the pending mentions of `messageId`, if any (and its @everyone, from `pendingEveryone`). */
  deletePendingMentions(messageId: Snowflake): readonly number[] | undefined {
    const members = this.#pendingMentions?.get(messageId);
    if (members === undefined) return undefined;
    this.#pendingMentions?.delete(messageId);
    this.#pendingEveryone?.delete(messageId);
    this.#pendingMembers -= members.length;
    return members;
  }

  /** The live @everyone messages (undefined until the channel's first). */
  get everyone(): CountedIds | undefined {
    return this.#everyone;
  }

  /** The live @everyone messages grouped by author (undefined until the channel's first). */
  get ownEveryone(): CountedIds | undefined {
    return this.#ownEveryone;
  }

  /** Whether the live message (hi, lo) mentions @everyone. */
  isEveryone(hi: number, lo: number): boolean {
    return this.#everyone?.state(0, hi, lo) === LIVE;
  }

  /** The live message (hi, lo) by `author` mentions @everyone (again, after an edit that took it away). */
  addEveryone(hi: number, lo: number, author: number): void {
    const everyone = (this.#everyone ??= new CountedIds(this.#blockSize));
    const own = (this.#ownEveryone ??= new CountedIds(this.#blockSize));
    if (everyone.state(0, hi, lo) === ABSENT) everyone.insert(0, hi, lo, true, author);
    else everyone.revive(0, hi, lo);
    own.revive(author, hi, lo);
  }

  /** The live @everyone message (hi, lo) by `author` was deleted, or an edit took its @everyone away. */
  removeEveryone(hi: number, lo: number, author: number): void {
    this.#everyone?.kill(0, hi, lo);
    this.#ownEveryone?.kill(author, hi, lo);
  }

  /** Live @everyone messages above (hi, lo) (all when `hasPointer` is false), not by `member` (-1: by anyone). */
  everyoneAbove(member: number, hasPointer: boolean, hi: number, lo: number): number {
    const everyone = this.#everyone;
    const own = this.#ownEveryone;
    if (everyone === undefined || own === undefined || everyone.liveCount === 0) return 0;
    const all = hasPointer ? everyone.liveAbove(0, hi, lo) : everyone.liveCount;
    if (member === -1) return all;
    return all - (hasPointer ? own.liveAboveIn(member, hi, lo) : own.liveIn(member));
  }

  get memberCount(): number {
    return this.#memberCount;
  }

  /** The user id of a member, made from its words. */
  userId(member: number): Snowflake {
    return formatSnowflakeWords(this.userHi(member), this.userLo(member));
  }

  /** The member number of `userId` (a valid snowflake, as every id the fold sees), or -1. */
  memberOf(userId: Snowflake): number {
    const members = this.#members;
    if (members !== undefined) return members.get(userId) ?? -1;
    parseSnowflakeInto(userId, wanted);
    const hi = wanted[0] as number;
    const lo = wanted[1] as number;
    const columns = this.#columns;
    for (let member = 0, at = 0; member < this.#memberCount; member++, at += MEMBER_WORDS) {
      if (columns[at + USER_HI] === hi && columns[at + USER_LO] === lo) return member;
    }
    return -1;
  }

  /** The member number of `userId`, numbering them if new (no read state, no pointer). */
  member(userId: Snowflake): number {
    const member = this.memberOf(userId);
    if (member !== -1) return member;
    // Without a map of members, memberOf left the id's words in `wanted`.
    if (this.#members !== undefined) parseSnowflakeInto(userId, wanted);
    return this.appendMember(wanted[0] as number, wanted[1] as number, userId);
  }

  /** Makes room for `count` members in all: a channel read back, which lists them up front, grows its columns once. */
  reserveMembers(count: number): void {
    if (count <= this.#capacity) return;
    const capacity = Math.max(count, 2 * this.#capacity, FIRST_MEMBERS);
    this.#columns = resized(this.#columns, capacity * MEMBER_WORDS);
    if (this.#membershipAt !== undefined) this.#membershipAt = resized(this.#membershipAt, capacity);
    if (this.#floors !== undefined) this.#floors = resized(this.#floors, 2 * capacity);
  }

  /**
   * Numbers a user not yet a member, its id given as words (as a snapshot holds them, which lists each member
   * once): no string is made unless the channel has a map of its members. `userId`: the id, when at hand.
   */
  appendMember(hi: number, lo: number, userId?: Snowflake): number {
    const member = this.#memberCount++;
    this.reserveMembers(member + 1);
    const at = MEMBER_WORDS * member;
    this.#columns[at + USER_HI] = hi;
    this.#columns[at + USER_LO] = lo;
    if (this.#members !== undefined) {
      this.#members.set(userId ?? this.userId(member), member);
    } else if (this.#memberCount > SCANNED_MEMBERS) {
      const members = new Map<Snowflake, number>();
      for (let known = 0; known < this.#memberCount; known++) members.set(this.userId(known), known);
      this.#members = members;
    }
    return member;
  }

  userHi(member: number): number {
    return this.#columns[MEMBER_WORDS * member + USER_HI] as number;
  }

  userLo(member: number): number {
    return this.#columns[MEMBER_WORDS * member + USER_LO] as number;
  }

  hasReadState(member: number): boolean {
    return (this.flagsOf(member) & HAS_READ_STATE) !== 0;
  }

  hasPointer(member: number): boolean {
    return (this.flagsOf(member) & HAS_POINTER) !== 0;
  }

  pointerHi(member: number): number {
    return this.#columns[MEMBER_WORDS * member + POINTER_HI] as number;
  }

  pointerLo(member: number): number {
    return this.#columns[MEMBER_WORDS * member + POINTER_LO] as number;
  }

  flagsOf(member: number): number {
    return this.#columns[MEMBER_WORDS * member + FLAGS] as number;
  }

  #setFlags(member: number, flags: number): void {
    this.#columns[MEMBER_WORDS * member + FLAGS] = flags;
  }

  /** Members the columns have room for. */
  get #capacity(): number {
    return this.#columns.length / MEMBER_WORDS;
  }

  /** Sets flags as stored (a channel read back from disk), pointer included. */
  restoreFlags(member: number, flags: number, hi: number, lo: number): void {
    const at = MEMBER_WORDS * member;
    this.#columns[at + FLAGS] = flags;
    this.#columns[at + POINTER_HI] = hi;
    this.#columns[at + POINTER_LO] = lo;
  }

  /** Whether a membership event of the member was applied. */
  hasMembership(member: number): boolean {
    return (this.flagsOf(member) & MEMBERSHIP) !== 0;
  }

  /** Whether the member's latest membership event is a leave: the pair then counts nothing. */
  isLeft(member: number): boolean {
    return (this.flagsOf(member) & LEFT) !== 0;
  }

  /** The time (ms) of the member's latest membership event. */
  membershipAt(member: number): number {
    return this.#membershipAt?.[member] ?? 0;
  }

  /** The greatest id below the member's join floor (FLOORED): hi, lo. */
  floorHi(member: number): number {
    return this.#floors?.[2 * member] ?? 0;
  }

  floorLo(member: number): number {
    return this.#floors?.[2 * member + 1] ?? 0;
  }

  /**
   * Applies a membership event (the caller has checked that it is the latest): a leave, or a join whose floor
   * (the first id of its millisecond) lies above `floored` words (hi, lo) = the greatest id below it, or none.
   */
  setMembership(member: number, left: boolean, at: number, floored: boolean, hi: number, lo: number): void {
    const flags = this.flagsOf(member) & ~(MEMBERSHIP | FLOORED);
    this.#setFlags(member, flags | (left ? LEFT : JOINED) | (!left && floored ? FLOORED : 0));
    const times = (this.#membershipAt ??= new Float64Array(this.#capacity));
    const floors = (this.#floors ??= new Uint32Array(2 * this.#capacity));
    times[member] = at;
    floors[2 * member] = hi;
    floors[2 * member + 1] = lo;
  }

  /**
   * The pointer the member's counts are taken above: the acked one, raised to just below a join's floor.
   * Writes its hi, lo to out[0], out[1]; false when there is none (everything counts).
   */
  countingPointer(member: number, out: Uint32Array): boolean {
    const flags = this.flagsOf(member);
    const acked = (flags & HAS_POINTER) !== 0;
    const hi = this.pointerHi(member);
    const lo = this.pointerLo(member);
    if ((flags & FLOORED) !== 0 && (flags & JOINED) !== 0) {
      const fHi = this.floorHi(member);
      const fLo = this.floorLo(member);
      if (!acked || hi < fHi || (hi === fHi && lo < fLo)) {
        out[0] = fHi;
        out[1] = fLo;
        return true;
      }
    }
    out[0] = hi;
    out[1] = lo;
    return acked;
  }

  isListed(member: number): boolean {
    return (this.flagsOf(member) & LISTED) !== 0;
  }

  markListed(member: number): void {
    this.#setFlags(member, this.flagsOf(member) | LISTED);
  }

  unmarkListed(member: number): void {
    this.#setFlags(member, this.flagsOf(member) & ~LISTED);
  }

  /** Gives the member a read state with a null pointer (a mention by someone else). */
  giveReadState(member: number): void {
    this.#setFlags(member, this.flagsOf(member) | HAS_READ_STATE);
  }

  setPointer(member: number, hi: number, lo: number): void {
    const at = MEMBER_WORDS * member;
    this.#columns[at + FLAGS] = (this.#columns[at + FLAGS] as number) | HAS_READ_STATE | HAS_POINTER;
    this.#columns[at + POINTER_HI] = hi;
    this.#columns[at + POINTER_LO] = lo;
  }
}
