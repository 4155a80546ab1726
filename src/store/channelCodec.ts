import type { ChatEvent } from '../contract/events.ts';
import type { Snowflake } from '../contract/snowflake.ts';
import { compareWords, formatSnowflakeWords, parseSnowflakeInto } from '../contract/snowflakeWords.ts';
import { ChannelState, FLOORED, JOINED, LEFT, LISTED } from '../projection/compact/channelState.ts';
import type { CompactProjection } from '../projection/compact/compactProjection.ts';
import { ENTRY_WORDS, type CountedIds } from '../projection/compact/countedIds.ts';
import { WordArena } from '../projection/compact/wordArena.ts';

/**
 * A channel's state on disk: a snapshot of its ChannelState, and deltas since, each the channel's applied events
 * of one write, replayed through the projection on load. This build writes a big channel's changes as deltas
 * until they add up to its snapshot's size (compactStore.ts); earlier builds wrote deltas without the offsets they
 * include. Binary, little-endian, ids as two uint32 words.
 *
 *   snapshot  u8 version | i64 messages, i64 acks: the next offset on each topic it includes (version 4 on)
 *             | u32 epoch | u32 members | members × (u32 hi, u32 lo, u8 flags, u32 ptr hi, u32 ptr lo
 *             [, f64 membership ms, u32 floor hi, u32 floor lo: when flags say JOINED or LEFT (version 3 on)])
 *             | u32 ids | ids × (u32 hi, u32 lo, u8 flags, i32 author) | u32 mentioning
 *             | mentioning × (u32 hi, u32 lo, u16 n, n × u32 member)
 *             | u32 edited | edited × (u32 hi, u32 lo, f64 edited_at ms)                      (version 2 on)
 *             | u32 pending | pending × (u32 hi, u32 lo, u16 n, n × u32 member)               (version 2 on)
 *             | u32 pending @everyone | × (u32 hi, u32 lo)                                      (version 3 on)
 *   flags     1: live, 2: mentions @everyone (version 3 on)
 *   delta     [u8 INCLUDES_MARK | i64 messages, i64 acks: as a snapshot's (this build on)]
 *             | events × (u8 kind, …): sent (id, author, u16 n, n × user), deleted (id), acked (user, id),
 *             edited (id, f64 edited_at ms, u16 n, n × user); sent and edited with @everyone are kinds of
 *             their own; joined and left (user, f64 ms)
 *
 * Own and mention sets are not stored: they follow from the live ids' authors and the mentions.
 */

/**
 * Written; versions 1 (before edits), 2 (before @everyone) and 3 (before the offsets a snapshot includes) are still
 * read.
 */
const VERSION = 4;
const SENT = 1;
const DELETED = 2;
const ACKED = 3;
const ACKED_MANUAL = 4;
const EDITED = 5;
const SENT_EVERYONE = 6;
const EDITED_EVERYONE = 7;
const JOINED_KIND = 8;
const LEFT_KIND = 9;
const NO_BYTES = Buffer.alloc(0);
/** A delta's first byte when the offsets it includes follow: no event kind. */
const INCLUDES_MARK = 0xf0;
const LIVE_FLAG = 1;
const EVERYONE_FLAG = 2;
/**
 * A growable buffer written front to back. It allocates at its first write, and outside Node's shared pool: a
 * store keeps one per channel it writes back as deltas, and a small slice of the pool would hold on to all of it
 * (8 KiB) for as long as the channel records.
 */
export class ByteWriter {
  #bytes = NO_BYTES;
  /**
   * A view of the same bytes for the numbers: Buffer's write methods check and store byte by byte, a DataView's
   * compile to one store (an evicted channel's snapshot is a few hundred of them, thousands of times a second).
   */
  #view = new DataView(NO_BYTES.buffer, NO_BYTES.byteOffset, 0);
  length = 0;

  #room(n: number): void {
    if (this.length + n <= this.#bytes.length) return;
    const bigger = Buffer.allocUnsafeSlow(Math.max(256, this.#bytes.length * 2, this.length + n));
    this.#bytes.copy(bigger, 0, 0, this.length);
    this.#bytes = bigger;
    this.#view = new DataView(bigger.buffer, bigger.byteOffset, bigger.length);
  }

  u8(value: number): void {
    this.#room(1);
    this.#bytes[this.length++] = value;
  }

  u16(value: number): void {
    // A DataView wraps what does not fit, where Buffer's methods threw: a count must never be written short.
    if (!(value >= 0 && value <= 0xffff)) throw new RangeError(`${value} does not fit in 16 bits`);
    this.#room(2);
    this.#view.setUint16(this.length, value, true);
    this.length += 2;
  }

  u32(value: number): void {
    this.#room(4);
    this.#view.setUint32(this.length, value, true);
    this.length += 4;
  }

  /** Overwrites the u32 written at byte `at` (a count known only once what it counts is written). */
  u32At(at: number, value: number): void {
    this.#view.setUint32(at, value, true);
  }

  i32(value: number): void {
    if (!(value >= -0x80000000 && value <= 0x7fffffff)) {
      throw new RangeError(`${value} does not fit in 32 bits`);
    }
    this.#room(4);
    this.#view.setInt32(this.length, value, true);
    this.length += 4;
  }

  i64(value: bigint): void {
    this.#room(8);
    this.#view.setBigInt64(this.length, value, true);
    this.length += 8;
  }
  f64(value: number): void {
    this.#room(8);
    this.#view.setFloat64(this.length, value, true);
    this.length += 8;
  }

  id(value: Snowflake, words: Uint32Array): void {
    parseSnowflakeInto(value, words);
    this.u32(words[0] as number);
    this.u32(words[1] as number);
  }

  /** Copies what was written into `target` from byte `at`. */
  copyTo(target: Buffer, at: number): void {
    this.#bytes.copy(target, at, 0, this.length);
  }

  /** A copy of what was written; the writer may be reused after `reset`. */
  take(): Buffer {
    return Buffer.from(this.#bytes.subarray(0, this.length));
  }

  reset(): void {
    this.length = 0;
  }
}

class ByteReader {
  readonly #bytes: Buffer;
  /** The same bytes for the numbers, as ByteWriter's (a read past the end throws a RangeError all the same). */
  readonly #view: DataView;
  at = 0;
  constructor(bytes: Buffer) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  }
  get done(): boolean {
    return this.at >= this.#bytes.length;
  }
  /**
   * A count of `what`, each at least `bytesEach` long: one the bytes left cannot hold is refused before anything
   * is sized by it (a damaged record must not ask for gigabytes).
   */
  count(what: string, bytesEach: number): number {
    const count = this.u32();
    if (count * bytesEach > this.#bytes.length - this.at) {
      throw new Error(
        `channel snapshot lists ${count} ${what}, more than its ${this.#bytes.length} bytes hold`,
      );
    }
    return count;
  }
  u8(): number {
    return this.#view.getUint8(this.at++);
  }
  u16(): number {
    const value = this.#view.getUint16(this.at, true);
    this.at += 2;
    return value;
  }
  u32(): number {
    const value = this.#view.getUint32(this.at, true);
    this.at += 4;
    return value;
  }
  i32(): number {
    const value = this.#view.getInt32(this.at, true);
    this.at += 4;
    return value;
  }
  i64(): bigint {
    const value = this.#view.getBigInt64(this.at, true);
    this.at += 8;
    return value;
  }
  f64(): number {
    const value = this.#view.getFloat64(this.at, true);
    this.at += 8;
    return value;
  }
  id(): Snowflake {
    const hi = this.u32();
    return formatSnowflakeWords(hi, this.u32());
  }
  /** A list of member numbers: u16 n, then n × u32. */
  members(): number[] {
    const n = this.u16();
    // Sized up front: a list grown by push keeps room for 17 entries (184 bytes for a list of one), and a loaded
    // channel keeps its lists as long as it stays resident.
    const members = new Array<number>(n);
    for (let i = 0; i < n; i++) members[i] = this.u32();
    return members;
  }
  /** A list of ids: u16 n, then n ids. */
  ids(): Snowflake[] {
    const n = this.u16();
    const ids: Snowflake[] = [];
    for (let i = 0; i < n; i++) ids.push(this.id());
    return ids;
  }
}

const words = new Uint32Array(2);

/**
 * Scratch arrays for decoding, grown as needed and reused: the sets copy what they keep (CountedIds.fill). A
 * typed array of more than 64 bytes is allocated outside the heap, with a record the collector sweeps; a decode
 * made six of them, and channels evicted and loaded back were decoded thousands of times a second.
 */
const scratch = {
  messages: new Uint32Array(1024),
  authors: new Int32Array(256),
  byId: new Uint32Array(1024),
  byMessage: new Uint32Array(1024),
  memberOf: new Int32Array(256),
  grouped: new Uint32Array(1024),
  starts: new Uint32Array(256),
};

/**
 * Elements a scratch array keeps between decodes, at most: a channel of millions of ids gets arrays of its own,
 * so that one decode of it does not hold tens of MiB for the life of the process.
 */
const SCRATCH_KEPT = 2 ** 18;

/** The first `length` elements of scratch array `name` (grown to fit), zeroed. */
function scratchOf<K extends keyof typeof scratch>(name: K, length: number): (typeof scratch)[K] {
  let array = scratch[name];
  if (array.length < length) {
    const make = array.constructor as new (length: number) => (typeof scratch)[K];
    if (length > SCRATCH_KEPT) return new make(length);
    array = new make(Math.min(SCRATCH_KEPT, Math.max(length, 2 * array.length)));
    scratch[name] = array;
  }
  const view = array.subarray(0, length) as (typeof scratch)[K];
  view.fill(0);
  return view;
}

/**
 * Where a snapshot stands in the log: the next offset of each topic whose events it includes. A restart replays
 * from the partition's stored offsets, which may be older (compactStore.ts), and skips a channel's events below these.
 */
export type Includes = { readonly messages: bigint; readonly acks: bigint };

export function encodeSnapshot(channel: ChannelState, out: ByteWriter, includes: Includes): Buffer {
  out.reset();
  out.u8(VERSION);
  out.i64(includes.messages);
  out.i64(includes.acks);
  out.u32(channel.epoch);
  out.u32(channel.memberCount);
  for (let member = 0; member < channel.memberCount; member++) {
    // The member's id as words, parsed once when the channel numbered it.
    out.u32(channel.userHi(member));
    out.u32(channel.userLo(member));
    out.u8(channel.flagsOf(member) & ~LISTED);
    out.u32(channel.pointerHi(member));
    out.u32(channel.pointerLo(member));
    if (channel.hasMembership(member)) {
      out.f64(channel.membershipAt(member));
      out.u32(channel.floorHi(member));
      out.u32(channel.floorLo(member));
    }
  }
  out.u32(channel.messages.size);
  // The live @everyone ids, in id order as the messages come: walked beside them, not searched for each.
  const everyone = liveWordsOf(channel.everyone);
  let next = 0;
  channel.messages.forEachEntry((_group, hi, lo, live, author) => {
    while (
      next < everyone.length &&
      compareWords(everyone[next] as number, everyone[next + 1] as number, hi, lo) < 0
    ) {
      next += 2;
    }
    const flagged = next < everyone.length && everyone[next] === hi && everyone[next + 1] === lo;
    out.u32(hi);
    out.u32(lo);
    out.u8((live ? LIVE_FLAG : 0) | (live && flagged ? EVERYONE_FLAG : 0));
    out.i32(author);
  });
  // One pass over the index: the count of lists goes in front once they are written.
  const countAt = out.length;
  let mentioning = 0;
  out.u32(0);
  channel.forEachMentionList((hi, lo, members) => {
    out.u32(hi);
    out.u32(lo);
    writeMembers(members, out);
    mentioning++;
  });
  out.u32At(countAt, mentioning);
  out.u32(channel.editedAt.size);
  for (const [messageId, editedAt] of channel.editedAt) {
    out.id(messageId, words);
    out.f64(editedAt);
  }
  writeMemberLists(channel.pendingMentions, out);
  out.u32(channel.pendingEveryone.size);
  for (const messageId of channel.pendingEveryone) out.id(messageId, words);
  return out.take();
}

/** What a channel without @everyone messages walks beside its messages. */
const NO_WORDS: readonly number[] = [];

/** The live keys of `set` as (hi, lo) words, in key order; none without a set. */
function liveWordsOf(set: CountedIds | undefined): readonly number[] {
  if (set === undefined || set.liveCount === 0) return NO_WORDS;
  const words: number[] = [];
  set.forEachEntry((_group, hi, lo, live) => {
    if (live) words.push(hi, lo);
  });
  return words;
}

/** Per message, a list of member numbers: u32 count, then (u32 hi, u32 lo, u16 n, n × u32 member) each. */
function writeMemberLists(lists: ReadonlyMap<Snowflake, readonly number[]>, out: ByteWriter): void {
  out.u32(lists.size);
  for (const [messageId, members] of lists) {
    out.id(messageId, words);
    writeMembers(members, out);
  }
}

/** A list of member numbers: u16 n, then n × u32. */
function writeMembers(members: readonly number[], out: ByteWriter): void {
  out.u16(members.length);
  for (const member of members) out.u32(member);
}

/** What a snapshot includes; undefined before version 4, whose snapshots include what their offsets say. */
export function snapshotIncludes(bytes: Buffer): Includes | undefined {
  if (bytes.readUInt8(0) < 4) return undefined;
  return { messages: bytes.readBigInt64LE(1), acks: bytes.readBigInt64LE(9) };
}

/**
 * Above this many words (64 KiB), a channel read back makes an array per block, not one for them all: a big
 * channel parks its cold blocks, and a view left resident would keep the whole arena (wordArena.ts) in memory.
 */
const ARENA_WORDS = 16_384;

/** One array for sets filled together, or none (an array each) when they are big or empty. */
function arenaFor(words: number): WordArena | undefined {
  return words > 0 && words <= ARENA_WORDS ? new WordArena(words) : undefined;
}

/** The channel a snapshot holds, own and mention sets rebuilt; every read state counts as listed. */
export function decodeSnapshot(bytes: Buffer, channel: ChannelState): ChannelState {
  const reader = new ByteReader(bytes);
  const version = reader.u8();
  if (!(version >= 1 && version <= VERSION))
    throw new Error(`channel snapshot of version ${version}; this build reads 1 to ${VERSION}`);
  if (version >= 4) reader.at += 16;
  channel.epoch = reader.u32();
  // A member: its id, flags and pointer (17 bytes); a message: its id, flags and author (13).
  const members = reader.count('members', 17);
  channel.reserveMembers(members);
  for (let i = 0; i < members; i++) {
    const userHi = reader.u32();
    const member = channel.appendMember(userHi, reader.u32());
    const flags = reader.u8();
    const hi = reader.u32();
    channel.restoreFlags(member, flags, hi, reader.u32());
    if ((flags & (JOINED | LEFT)) !== 0) {
      if (version < 3) throw new Error(`channel snapshot of version ${version} holds membership flags`);
      const at = reader.f64();
      const floorHi = reader.u32();
      channel.setMembership(member, (flags & LEFT) !== 0, at, (flags & FLOORED) !== 0, floorHi, reader.u32());
    }
  }
  // The sets are filled whole (CountedIds.fill), in key order: the messages come in id order, and the own and
  // mention sets are grouped by member, which a counting sort by member gives while keeping id order.
  const ids = reader.count('messages', 13);
  const messages = scratchOf('messages', ids * ENTRY_WORDS);
  const authors = scratchOf('authors', ids);
  let live = 0;
  /** The live @everyone messages, (hi, lo, author) each, in id order. */
  const everyone: number[] = [];
  for (let i = 0, at = 0; i < ids; i++, at += ENTRY_WORDS) {
    const hi = reader.u32();
    const lo = reader.u32();
    messages[at + 1] = hi;
    messages[at + 2] = lo;
    const flags = reader.u8();
    const isLive = (flags & LIVE_FLAG) !== 0;
    const author = reader.i32();
    if (author < 0) throw new Error(`channel snapshot holds message author ${author}`);
    messages[at + 3] = (author << 1) | (isLive ? 1 : 0);
    authors[i] = isLive ? author : -1;
    if (isLive) live++;
    if (isLive && (flags & EVERYONE_FLAG) !== 0) everyone.push(hi, lo, author);
  }
  const sets = arenaFor(channel.messages.fillWords(ids) + channel.own.fillWords(live));
  channel.messages.fill(messages, ids, sets);
  for (let i = 0; i < everyone.length; i += 3) {
    channel.addEveryone(everyone[i] as number, everyone[i + 1] as number, everyone[i + 2] as number);
  }
  channel.own.fill(groupedByMember(messages, authors, live, members), live, sets);
  // A message, then at least its count of members (u16): 10 bytes.
  const mentioning = reader.count('mentioning messages', 10);
  const mentions: { hi: number; lo: number; members: number[]; everyone: boolean }[] = [];
  let pairs = 0;
  let mentioned = 0;
  for (let i = 0; i < mentioning; i++) {
    const hi = reader.u32();
    const lo = reader.u32();
    // In member order, as the index keeps them (snapshots before it kept them as mentioned).
    const list = reader.members().sort((a, b) => a - b);
    // An @everyone message counts for its named members through `everyone`: they are not in `mentioned`.
    for (const member of list) {
      if (member >= members) throw new Error(`channel snapshot names member ${member} of ${members}`);
    }
    const everyone = channel.isEveryone(hi, lo);
    mentions.push({ hi, lo, members: list, everyone });
    pairs += list.length;
    if (!everyone) mentioned += list.length;
  }
  // Snapshots before the index listed messages in the order their mentions were set.
  mentions.sort((a, b) => (a.hi !== b.hi ? a.hi - b.hi : a.lo - b.lo));
  const byMessage = scratchOf('byMessage', pairs * ENTRY_WORDS);
  const byId = scratchOf('byId', mentioned * ENTRY_WORDS);
  const memberOf = scratchOf('memberOf', mentioned);
  let n = 0;
  let pair = 0;
  for (const { hi, lo, members: list, everyone } of mentions) {
    for (const member of list) {
      const at = pair++ * ENTRY_WORDS;
      byMessage[at] = hi;
      byMessage[at + 1] = lo;
      byMessage[at + 2] = member;
      byMessage[at + 3] = 1;
      if (everyone) continue;
      byId[n * ENTRY_WORDS + 1] = hi;
      byId[n * ENTRY_WORDS + 2] = lo;
      memberOf[n++] = member;
    }
  }
  const mentionSets = arenaFor(channel.mentionsFillWords(pairs) + channel.mentioned.fillWords(mentioned));
  channel.fillMentions(byMessage, pairs, mentionSets);
  channel.mentioned.fill(groupedByMember(byId, memberOf, mentioned, members), mentioned, mentionSets);
  if (version === 1) return channel;
  const edited = reader.u32();
  for (let i = 0; i < edited; i++) {
    const messageId = reader.id();
    channel.setEditedAt(messageId, reader.f64());
  }
  const pending = reader.u32();
  for (let i = 0; i < pending; i++) {
    const messageId = reader.id();
    channel.setPendingMentions(messageId, reader.members());
  }
  if (version === 2) return channel;
  const pendingEveryone = reader.u32();
  for (let i = 0; i < pendingEveryone; i++) {
    const messageId = reader.id();
    const members = channel.pendingMentions.get(messageId);
    if (members === undefined)
      throw new Error(`channel snapshot holds @everyone for ${messageId}, which has no pending edit`);
    channel.setPendingMentions(messageId, members, true);
  }
  return channel;
}

/**
 * The entries of `byId` (in id order) whose `memberOf` is not -1, as live keys (member, hi, lo) in key order:
 * a counting sort by member, which keeps id order within each member.
 */
function groupedByMember(
  byId: Uint32Array,
  memberOf: Int32Array,
  count: number,
  memberCount: number,
): Uint32Array {
  const starts = scratchOf('starts', memberCount + 1);
  for (const member of memberOf) {
    if (member === -1) continue;
    if (member < -1 || member >= memberCount) {
      throw new Error(`channel snapshot names member ${member} of ${memberCount}`);
    }
    starts[member + 1] = (starts[member + 1] as number) + 1;
  }
  for (let m = 1; m <= memberCount; m++) starts[m] = (starts[m] as number) + (starts[m - 1] as number);
  const grouped = scratchOf('grouped', count * ENTRY_WORDS);
  memberOf.forEach((member, i) => {
    if (member === -1) return;
    const at = (starts[member] as number) * ENTRY_WORDS;
    starts[member] = (starts[member] as number) + 1;
    grouped[at] = member;
    grouped[at + 1] = byId[i * ENTRY_WORDS + 1] as number;
    grouped[at + 2] = byId[i * ENTRY_WORDS + 2] as number;
    grouped[at + 3] = 1;
  });
  return grouped;
}

/** Appends one applied event of the channel to a delta (as earlier builds wrote them; tests build such databases). */
export function encodeDeltaEvent(event: ChatEvent, out: ByteWriter): void {
  switch (event.type) {
    case 'message_sent':
      out.u8(event.mention_everyone === true ? SENT_EVERYONE : SENT);
      out.id(event.message_id, words);
      out.id(event.author_id, words);
      out.u16(event.mention_user_ids.length);
      for (const user of event.mention_user_ids) out.id(user, words);
      return;
    case 'message_deleted':
      out.u8(DELETED);
      out.id(event.message_id, words);
      return;
    case 'message_edited':
      out.u8(event.mention_everyone === true ? EDITED_EVERYONE : EDITED);
      out.id(event.message_id, words);
      out.f64(Date.parse(event.edited_at));
      out.u16(event.mention_user_ids.length);
      for (const user of event.mention_user_ids) out.id(user, words);
      return;
    case 'message_acked':
      out.u8(event.manual ? ACKED_MANUAL : ACKED);
      out.id(event.user_id, words);
      out.id(event.message_id, words);
      return;
    case 'member_joined':
      out.u8(JOINED_KIND);
      out.id(event.user_id, words);
      out.f64(Date.parse(event.joined_at));
      return;
    case 'member_left':
      out.u8(LEFT_KIND);
      out.id(event.user_id, words);
      out.f64(Date.parse(event.left_at));
  }
}

/** A delta of the events `events` holds (encodeDeltaEvent's), which takes the channel up to `includes`. */
export function encodeDelta(events: ByteWriter, includes: Includes): Buffer {
  const delta = Buffer.allocUnsafe(17 + events.length);
  delta.writeUInt8(INCLUDES_MARK, 0);
  delta.writeBigInt64LE(includes.messages, 1);
  delta.writeBigInt64LE(includes.acks, 9);
  events.copyTo(delta, 17);
  return delta;
}

/** What a delta takes its channel up to; undefined when an earlier build wrote it (its offsets say). */
export function deltaIncludes(bytes: Buffer): Includes | undefined {
  if (bytes.length === 0 || bytes.readUInt8(0) !== INCLUDES_MARK) return undefined;
  return { messages: bytes.readBigInt64LE(1), acks: bytes.readBigInt64LE(9) };
}

/** Applies a delta's events to `channelId`'s state in `projection` (where the snapshot was put first). */
export function replayDelta(bytes: Buffer, channelId: Snowflake, projection: CompactProjection): void {
  const reader = new ByteReader(bytes);
  if (deltaIncludes(bytes) !== undefined) reader.at = 17;
  while (!reader.done) {
    const kind = reader.u8();
    let event: ChatEvent;
    if (kind === SENT || kind === SENT_EVERYONE) {
      const messageId = reader.id();
      const authorId = reader.id();
      const mentions = reader.ids();
      event = {
        type: 'message_sent',
        v: 1,
        channel_id: channelId,
        message_id: messageId,
        author_id: authorId,
        mention_user_ids: mentions,
        ...(kind === SENT_EVERYONE ? { mention_everyone: true } : {}),
        sent_at: '',
      };
    } else if (kind === DELETED) {
      event = {
        type: 'message_deleted',
        v: 1,
        channel_id: channelId,
        message_id: reader.id(),
        deleted_at: '',
      };
    } else if (kind === EDITED || kind === EDITED_EVERYONE) {
      const messageId = reader.id();
      const editedAt = new Date(reader.f64()).toISOString();
      const mentions = reader.ids();
      event = {
        type: 'message_edited',
        v: 1,
        channel_id: channelId,
        message_id: messageId,
        mention_user_ids: mentions,
        ...(kind === EDITED_EVERYONE ? { mention_everyone: true } : {}),
        edited_at: editedAt,
      };
    } else if (kind === ACKED || kind === ACKED_MANUAL) {
      const userId = reader.id();
      event = {
        type: 'message_acked',
        v: 1,
        channel_id: channelId,
        user_id: userId,
        message_id: reader.id(),
        manual: kind === ACKED_MANUAL,
        acked_at: '',
      };
    } else if (kind === JOINED_KIND || kind === LEFT_KIND) {
      const userId = reader.id();
      const at = new Date(reader.f64()).toISOString();
      event =
        kind === JOINED_KIND
          ? { type: 'member_joined', v: 1, channel_id: channelId, user_id: userId, joined_at: at }
          : { type: 'member_left', v: 1, channel_id: channelId, user_id: userId, left_at: at };
    } else {
      throw new Error(`channel delta holds an event of unknown kind ${kind}`);
    }
    projection.apply(event);
  }
}
