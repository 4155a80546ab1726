import type { WordArena } from './wordArena.ts';

/**
 * A sorted set of keys, each live or dead, that counts the live keys above any key in O(log n). A key is three
 * uint32 words (group, hi, lo): a 64-bit id (hi, lo) within a group. A channel's messages are one group (dead ones
 * are tombstones, so a late message_sent of a deleted id is still known); the live messages each member wrote,
 * or was mentioned in, are one set for the whole channel with the member as the group, so a member costs no
 * object of its own.
 *
 * Keys sit in blocks of sorted entries, each block one Uint32Array: no object per key, so the collector has a
 * few arrays to trace however many keys there are. A Fenwick tree over the blocks' live counts gives the live
 * keys after any block in O(log blocks); the block itself is scanned (at most `blockSize` entries). Appends above
 * the greatest key (nearly every message) are O(1); a key below it is inserted into its block, which splits in
 * two when full. Killing a key only clears its flag: keys are never removed.
 *
 * Each entry carries a `payload` below 2^31 (a message's author; unused otherwise). A set made with
 * `{ solePayloads: true }` also keeps, per block, the payload its live keys share (if they do), in a tree over
 * the blocks: `liveKeyNotOf` finds the first live key from a rank on whose payload is not a given one in
 * O(log blocks) — a channel's first unread message, however many of the reader's own come before it.
 *
 * Blocks a while untouched can be parked (`parkCold`): their entries go to a BlockSpill and leave memory, while
 * their size, live count (in the Fenwick tree) and greatest key (in `ends`) stay, so every count above any key is
 * as exact as before without them. Whatever touches a parked block's entries loads it back first, synchronously.
 */

/** What `state` finds for a key. */
export const ABSENT = -1;
export const DEAD = 0;
export const LIVE = 1;
export type KeyState = typeof ABSENT | typeof DEAD | typeof LIVE;

/** Entries per block before it splits. 128 keeps a scan within a block to a few cache lines. */
export const DEFAULT_BLOCK_SIZE = 128;
const FIRST_CAPACITY = 2;
/** Words per entry: group, hi, lo, then payload << 1 | live. */
export const ENTRY_WORDS = 4;
/** Words of a key: group, hi, lo. */
const KEY_WORDS = 3;
const STRIDE = ENTRY_WORDS;
const MAX_WORD = 0xffffffff;

/** Whether the key at word `at` of `words` (group, hi, lo) is below (g, hi, lo). */
function wordsBelow(words: Uint32Array, at: number, g: number, hi: number, lo: number): boolean {
  const wg = words[at] as number;
  if (wg !== g) return wg < g;
  const wh = words[at + 1] as number;
  return wh !== hi ? wh < hi : (words[at + 2] as number) < lo;
}

/**
 * Where parked blocks' entries wait while out of memory (the store's blockSpill.ts). Synchronous: a block is
 * loaded where the fold touches it, inside a chunk that must not yield.
 */
export interface BlockSpill {
  /** Keeps the first `size` entries of `entries` (which it may hold on to); the number to read them back by. */
  park(entries: Uint32Array, size: number): number;
  /** Copies the entries parked under `serial` into the start of `into`. */
  read(serial: number, into: Uint32Array): void;
  /** Forgets what `serial` holds: its block changed since, or is gone. */
  discard(serial: number): void;
}

/**
 * A count of the events applied in this thread, stamped on every block an access touches: parkCold's measure of
 * cold. One per thread (a module's), so that blocks of every store in it are stamped in one order.
 */
let useTick = 0;

/**
 * Moves the tick stamped on the blocks touched from now on by `events` (a store does, as each chunk starts, by
 * the chunk's events); returns it.
 */
export function nextUseTick(events = 1): number {
  useTick += events;
  return useTick;
}

/** A block's `sole` when none of its keys is live. */
const NO_PAYLOAD = -1;
/** A block's `sole` when its live keys' payloads differ. */
const MIXED_PAYLOADS = -2;

/** The sole payload of two runs of keys together: a payload both share, NO_PAYLOAD, or MIXED_PAYLOADS. */
function joinSole(a: number, b: number): number {
  if (a === b || b === NO_PAYLOAD) return a;
  return a === NO_PAYLOAD ? b : MIXED_PAYLOADS;
}

/** Whether a run of keys of sole payload `sole` holds a live key whose payload is not `payload`. */
function holdsOtherThan(sole: number, payload: number): boolean {
  return sole === MIXED_PAYLOADS || (sole !== NO_PAYLOAD && sole !== payload);
}

/** A parked block's entries: none in memory. */
const PARKED = new Uint32Array(0);

class Block {
  entries: Uint32Array;
  size = 0;
  liveCount = 0;
  /** Where its entries are parked: 0 when nowhere, or when they changed since (then the spill forgot them). */
  serial = 0;
  /** The tick (setUseTick) of its last access. */
  used = useTick;
  /** The payload its live keys share, or NO_PAYLOAD / MIXED_PAYLOADS: kept only in a set with `solePayloads`. */
  sole = NO_PAYLOAD;

  /** `entries`: its array, `capacity` entries long (a view of a WordArena's), when not a new one. */
  constructor(capacity: number, entries = new Uint32Array(capacity * STRIDE)) {
    this.entries = entries;
  }

  get capacity(): number {
    return this.entries.length / STRIDE;
  }

  grow(capacity: number): void {
    const entries = new Uint32Array(capacity * STRIDE);
    entries.set(this.entries);
    this.entries = entries;
  }

  /** Whether entry `i` is below (g, hi, lo). */
  below(i: number, g: number, hi: number, lo: number): boolean {
    return wordsBelow(this.entries, i * STRIDE, g, hi, lo);
  }

  /** The first position whose key is ≥ (g, hi, lo), or `size`. */
  lowerBound(g: number, hi: number, lo: number): number {
    // Nearly every key arrives above the greatest (a new message): one comparison instead of a search.
    if (this.size === 0 || this.below(this.size - 1, g, hi, lo)) return this.size;
    let low = 0;
    let high = this.size - 1;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.below(mid, g, hi, lo)) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  /** Whether entry `at` holds (g, hi, lo). */
  holds(at: number, g: number, hi: number, lo: number): boolean {
    const e = this.entries;
    const i = at * STRIDE;
    return at < this.size && e[i] === g && e[i + 1] === hi && e[i + 2] === lo;
  }

  isLive(at: number): boolean {
    return ((this.entries[at * STRIDE + 3] as number) & 1) === 1;
  }

  /** Live entries, counted (not `liveCount`). */
  countLive(): number {
    let count = 0;
    const e = this.entries;
    for (let i = 3; i < this.size * STRIDE; i += STRIDE) count += (e[i] as number) & 1;
    return count;
  }

  /** Live entries at positions ≥ `from`. */
  liveFrom(from: number): number {
    if (from === 0) return this.liveCount;
    let count = 0;
    const e = this.entries;
    for (let i = from * STRIDE + 3; i < this.size * STRIDE; i += STRIDE) count += (e[i] as number) & 1;
    return count;
  }

  /** The payload its live keys share, found by a scan (entries in memory). */
  scanSole(): number {
    let sole = NO_PAYLOAD;
    const e = this.entries;
    for (let i = 3; i < this.size * STRIDE; i += STRIDE) {
      const meta = e[i] as number;
      if ((meta & 1) === 1) sole = joinSole(sole, meta >>> 1);
    }
    return sole;
  }

  /**
   * The position of the first live entry at or after `from` whose payload is not `payload`, or -1 (entries in
   * memory).
   */
  liveNotOfFrom(from: number, payload: number): number {
    const e = this.entries;
    for (let at = from; at < this.size; at++) {
      const meta = e[at * STRIDE + 3] as number;
      if ((meta & 1) === 1 && meta >>> 1 !== payload) return at;
    }
    return -1;
  }
}

/** Writes the hi, lo and payload of entry `at` of `block` to out[0], out[1], out[2]. */
function writeKey(block: Block, at: number, out: Uint32Array): void {
  const e = block.entries;
  out[0] = e[at * STRIDE + 1] as number;
  out[1] = e[at * STRIDE + 2] as number;
  out[2] = (e[at * STRIDE + 3] as number) >>> 1;
}

const NO_TREE = new Int32Array(0);

const NO_ENDS = new Uint32Array(0);
/**
 * Every empty set's one block until its first insert replaces it: a channel holds several sets, most of them
 * empty (mentions, @everyone), and a block is three objects (block, array, buffer) for the collector to trace.
 * Nothing writes its entries: insert() swaps it out first, and no other write reaches an empty set's block.
 */
const EMPTY_BLOCK = new Block(0);

/** A filled block's capacity: room to double, as appends would have grown it, so its next key need not copy it. */
function fillCapacity(size: number, blockSize: number): number {
  return Math.min(blockSize, Math.max(FIRST_CAPACITY, 2 * size));
}

/** The words `fill` takes for `count` entries in blocks of `blockSize`. */
export function fillWords(count: number, blockSize = DEFAULT_BLOCK_SIZE): number {
  let words = 0;
  for (let start = 0; start < count; start += blockSize) {
    words += fillCapacity(Math.min(blockSize, count - start), blockSize) * STRIDE;
  }
  return words;
}

/** Whether the key of the entry at word `a` of `e` is below that at word `b`. */
function keyBelow(e: Uint32Array, a: number, b: number): boolean {
  for (let w = 0; w < 3; w++) {
    const x = e[a + w] as number;
    const y = e[b + w] as number;
    if (x !== y) return x < y;
  }
  return false;
}

export class CountedIds {
  readonly blockSize: number;
  /**
   * The first block (the only one may be empty), and every block in key order once there is more than one: a
   * set of one block, as most are, holds no array of blocks, which was two objects per set for the collector.
   */
  #first: Block = EMPTY_BLOCK;
  #blocks: Block[] | undefined;
  /**
   * Each block's greatest key (group, hi, lo), block after block, kept while there is more than one block (none
   * is empty then): finding a key's block searches this one array instead of touching a block (two objects away)
   * per step, which in a channel of 100,000 messages was most of a lookup's time (5M events: 4.2 s of a live
   * profile). A set of one block, as most are, has none: an array each would be an object per set.
   */
  private ends = NO_ENDS;
  /** Fenwick tree over the blocks' live counts (index i + 1 for block i); unused while there is one block. */
  private tree = NO_TREE;
  /** Whether it keeps its blocks' sole payloads (Block.sole and `soles`). */
  readonly #keepsSoles: boolean;
  /**
   * With `solePayloads`, while there is more than one block: a segment tree of the blocks' sole payloads, node 1
   * the root, block b's leaf at `soles.length / 2 + b`, leaves past the last block NO_PAYLOAD.
   */
  private soles = NO_TREE;
  #liveCount = 0;
  #size = 0;
  /** Where its parked blocks are, once it parked one. */
  #spill: BlockSpill | undefined;
  /** Entries in parked blocks. */
  #parked = 0;

  /** `solePayloads`: keep what `liveKeyNotOf` needs (a channel's messages, whose payload is the author). */
  constructor(blockSize = DEFAULT_BLOCK_SIZE, { solePayloads = false }: { solePayloads?: boolean } = {}) {
    if (!(Number.isInteger(blockSize) && blockSize >= 4)) {
      throw new RangeError(`blockSize must be a whole number of at least 4 (got ${blockSize})`);
    }
    this.blockSize = blockSize;
    this.#keepsSoles = solePayloads;
  }

  /** Live keys. */
  get liveCount(): number {
    return this.#liveCount;
  }

  /** Keys, live and dead. */
  get size(): number {
    return this.#size;
  }

  /** Keys in memory: those not in parked blocks. */
  get residentSize(): number {
    return this.#size - this.#parked;
  }

  /**
   * Parks every block but the last (where appends go) not touched since tick `before`: its entries go to `spill`
   * (unless an unchanged copy is there already) and leave memory. Returns the keys parked.
   */
  parkCold(before: number, spill: BlockSpill): number {
    const blocks = this.#blocks;
    if (blocks === undefined) return 0;
    if (this.#spill !== undefined && this.#spill !== spill) throw new Error('a set parks in one spill only');
    this.#spill = spill;
    let parked = 0;
    for (let b = 0; b < blocks.length - 1; b++) {
      const block = blocks[b] as Block;
      if (block.entries === PARKED || block.used >= before) continue;
      if (block.serial === 0) block.serial = spill.park(block.entries, block.size);
      block.entries = PARKED;
      parked += block.size;
    }
    this.#parked += parked;
    return parked;
  }

  /**
   * Appends to `into` the serials its blocks hold in the spill: parked ones, and unchanged copies of loaded ones
   * unless `parkedOnly` (those a snapshot would read back).
   */
  collectSerials(into: number[], parkedOnly = false): void {
    if (this.#spill === undefined) return;
    for (let b = 0; b < this.blockCount; b++) {
      const block = this.#at(b);
      if (block.serial !== 0 && (!parkedOnly || block.entries === PARKED)) into.push(block.serial);
    }
  }

  state(g: number, hi: number, lo: number): KeyState {
    const block = this.block(this.blockOf(g, hi, lo));
    const at = block.lowerBound(g, hi, lo);
    if (!block.holds(at, g, hi, lo)) return ABSENT;
    return block.isLive(at) ? LIVE : DEAD;
  }

  /** The payload of (g, hi, lo), which must be present. */
  payloadOf(g: number, hi: number, lo: number): number {
    const block = this.block(this.blockOf(g, hi, lo));
    const at = block.lowerBound(g, hi, lo);
    if (!block.holds(at, g, hi, lo)) throw new Error(`key ${g}:${hi}:${lo} is not in the set`);
    return (block.entries[at * STRIDE + 3] as number) >>> 1;
  }

  /** Adds (g, hi, lo), which must be absent. */
  insert(g: number, hi: number, lo: number, live: boolean, payload = 0): void {
    let b = this.blockOf(g, hi, lo);
    let block = this.changing(b);
    if (block === EMPTY_BLOCK) {
      block = new Block(FIRST_CAPACITY);
      this.#first = block;
    }
    let at = block.lowerBound(g, hi, lo);
    if (block.holds(at, g, hi, lo)) throw new Error(`key ${g}:${hi}:${lo} is already in the set`);
    if (block.size === this.blockSize) {
      if (at === block.size && b === this.blockCount - 1) {
        // An append to a full last block starts a new one: appends leave blocks full, not half empty.
        if (b === 0) this.setEnd(0, block);
        block = new Block(FIRST_CAPACITY);
        this.insertBlock(this.blockCount, block);
        this.appendToTree();
        this.appendToSoles();
        b++;
        at = 0;
      } else {
        this.split(b);
        this.rebuildTree();
        this.rebuildSoles();
        const left = this.block(b);
        if (at > left.size) {
          at -= left.size;
          b++;
        }
        block = this.block(b);
      }
    }
    if (block.size === block.capacity) block.grow(Math.min(block.capacity * 2, this.blockSize));
    const e = block.entries;
    const i = at * STRIDE;
    if (at < block.size) e.copyWithin(i + STRIDE, i, block.size * STRIDE);
    e[i] = g;
    e[i + 1] = hi;
    e[i + 2] = lo;
    e[i + 3] = (payload << 1) | (live ? 1 : 0);
    block.size++;
    if (at === block.size - 1 && this.blockCount > 1) this.setEnd(b, block);
    this.#size++;
    if (live) {
      this.changeLive(b, block, 1);
      this.setSole(b, block, joinSole(block.sole, payload));
    }
  }

  /** The words `fill` takes for `count` entries (from an arena, when given one). */
  fillWords(count: number): number {
    return fillWords(count, this.blockSize);
  }

  /**
   * Fills this empty set with the first `count` entries of `entries` (`ENTRY_WORDS` each: group, hi, lo, then
   * payload << 1 | live), which must be in strictly ascending key order. Blocks are cut full, with no insert or
   * split: a channel read back from disk costs one copy of its keys, not an insert each. `arena`: where the
   * blocks' arrays come from (`fillWords` of them), instead of an array each.
   */
  fill(entries: Uint32Array, count: number, arena?: WordArena): void {
    if (this.#size !== 0) throw new Error('fill needs an empty set');
    for (let at = STRIDE; at < count * STRIDE; at += STRIDE) {
      if (!keyBelow(entries, at - STRIDE, at)) {
        throw new Error(`keys to fill are not in strictly ascending order at entry ${at / STRIDE}`);
      }
    }
    if (count === 0) return;
    const blocks: Block[] = [];
    let liveCount = 0;
    for (let start = 0; start < count; start += this.blockSize) {
      const size = Math.min(this.blockSize, count - start);
      const capacity = fillCapacity(size, this.blockSize);
      const block = new Block(capacity, arena?.take(capacity * STRIDE));
      block.entries.set(entries.subarray(start * STRIDE, (start + size) * STRIDE));
      block.size = size;
      // Read back, a block is as cold as if never touched: a big channel loaded for one event parks the rest at
      // once, instead of holding it all until it ages out (or is evicted whole first).
      block.used = 0;
      block.liveCount = block.countLive();
      if (this.#keepsSoles) block.sole = block.scanSole();
      liveCount += block.liveCount;
      blocks.push(block);
    }
    this.#first = blocks[0] as Block;
    this.#blocks = blocks.length > 1 ? blocks : undefined;
    this.ends = NO_ENDS;
    if (blocks.length > 1) {
      blocks.forEach((block, b) => {
        this.setEnd(b, block);
      });
    }
    this.#size = count;
    this.#liveCount = liveCount;
    this.tree = NO_TREE;
    if (blocks.length > 1) this.rebuildTree();
    this.rebuildSoles();
  }

  /** Makes (g, hi, lo) live: inserts it when absent, marks it live again when dead (it must not be live). */
  revive(g: number, hi: number, lo: number): void {
    const b = this.blockOf(g, hi, lo);
    const block = this.changing(b);
    const at = block.lowerBound(g, hi, lo);
    if (!block.holds(at, g, hi, lo)) {
      this.insert(g, hi, lo, true);
      return;
    }
    if (block.isLive(at)) throw new Error(`key ${g}:${hi}:${lo} is already live`);
    const meta = (block.entries[at * STRIDE + 3] as number) | 1;
    block.entries[at * STRIDE + 3] = meta;
    this.changeLive(b, block, 1);
    this.setSole(b, block, joinSole(block.sole, meta >>> 1));
  }

  /** Marks the live key (g, hi, lo) dead and returns its payload. */
  kill(g: number, hi: number, lo: number): number {
    const b = this.blockOf(g, hi, lo);
    const block = this.changing(b);
    const at = block.lowerBound(g, hi, lo);
    if (!block.holds(at, g, hi, lo) || !block.isLive(at)) throw new Error(`key ${g}:${hi}:${lo} is not live`);
    const meta = at * STRIDE + 3;
    const word = block.entries[meta] as number;
    block.entries[meta] = word & ~1;
    this.changeLive(b, block, -1);
    // A block of one payload keeps it while any key is live; which payloads a mixed one keeps takes a scan.
    if (this.#keepsSoles) {
      const sole =
        block.liveCount === 0 ? NO_PAYLOAD : block.sole === MIXED_PAYLOADS ? block.scanSole() : block.sole;
      this.setSole(b, block, sole);
    }
    return word >>> 1;
  }

  /** Live keys above (g, hi, lo). */
  liveAbove(g: number, hi: number, lo: number): number {
    if (this.#liveCount === 0) return 0;
    const b = this.blockOf(g, hi, lo);
    const block = this.block(b);
    let at = block.lowerBound(g, hi, lo);
    if (block.holds(at, g, hi, lo)) at++;
    const inBlock = block.liveFrom(at);
    if (b === this.blockCount - 1) return inBlock;
    return inBlock + this.#liveCount - this.livePrefix(b + 1);
  }

  /** Live keys of group `g` above (hi, lo). */
  liveAboveIn(g: number, hi: number, lo: number): number {
    if (this.#liveCount === 0) return 0;
    return this.liveAbove(g, hi, lo) - this.liveAbove(g, MAX_WORD, MAX_WORD);
  }

  /** Live keys of group `g`. */
  liveIn(g: number): number {
    if (this.#liveCount === 0) return 0;
    const fromG = g === 0 ? this.#liveCount : this.liveAbove(g - 1, MAX_WORD, MAX_WORD);
    return fromG - this.liveAbove(g, MAX_WORD, MAX_WORD);
  }

  /**
   * The live key with `rank` live keys below it: writes its hi, lo and payload to out[0], out[1], out[2]; false
   * when fewer than rank + 1 keys are live. O(log blocks) down the Fenwick tree, then a scan of one block.
   */
  liveKeyAt(rank: number, out: Uint32Array): boolean {
    if (!(rank >= 0 && rank < this.#liveCount)) return false;
    const b = this.blockOfRank(rank);
    const block = this.block(b);
    writeKey(block, this.positionOfRank(b, block, rank), out);
    return true;
  }

  /**
   * The first live key whose payload is not `payload` among those with at least `rank` live keys below it: writes
   * its hi, lo and payload to out[0], out[1], out[2]; false when there is none. Needs `solePayloads`.
   *
   * O(log blocks) and a scan of at most two blocks: the Fenwick tree finds the block of rank `rank`, which is
   * scanned from there; if every live key left in it has `payload`, one descent of the sole-payload tree finds
   * the first later block holding another, which is scanned. Only those two blocks are read (or loaded, parked).
   */
  liveKeyNotOf(rank: number, payload: number, out: Uint32Array): boolean {
    if (!this.#keepsSoles) throw new Error('liveKeyNotOf needs a set made with solePayloads');
    if (!(rank >= 0 && rank < this.#liveCount)) return false;
    const from = this.blockOfRank(rank);
    let block = this.block(from);
    let at = block.liveNotOfFrom(this.positionOfRank(from, block, rank), payload);
    if (at === -1) {
      const next = this.blockCount === 1 ? -1 : this.nextBlockHolding(from + 1, payload);
      if (next === -1) return false;
      block = this.block(next);
      at = block.liveNotOfFrom(0, payload);
      if (at === -1)
        throw new Error(`block ${next} holds no other payload than ${payload}: its sole is out of step`);
    }
    writeKey(block, at, out);
    return true;
  }

  /** Writes the greatest live key's hi, lo to out[0], out[1]; false when no key is live. */
  maxLive(out: Uint32Array): boolean {
    if (this.#liveCount === 0) return false;
    for (let b = this.blockCount - 1; b >= 0; b--) {
      if (this.#at(b).liveCount === 0) continue;
      const block = this.block(b);
      for (let i = block.size - 1; i >= 0; i--) {
        if (block.isLive(i)) {
          out[0] = block.entries[i * STRIDE + 1] as number;
          out[1] = block.entries[i * STRIDE + 2] as number;
          return true;
        }
      }
    }
    return false;
  }

  /** Whether (0, hi, lo) is above every live key (true when none is live): an insert of it is an append. */
  aboveLive(hi: number, lo: number, scratch: Uint32Array): boolean {
    if (!this.maxLive(scratch)) return true;
    const maxHi = scratch[0] as number;
    return hi > maxHi || (hi === maxHi && lo > (scratch[1] as number));
  }

  /** Calls `visit` with every key, its flag and payload, in order: for serialisation, without an object each. */
  forEachEntry(visit: (group: number, hi: number, lo: number, live: boolean, payload: number) => void): void {
    // A parked block is read into this, not loaded: a snapshot of a channel would otherwise bring all of it back.
    // One per call, so that `visit` may read other sets.
    let scratch: Uint32Array | undefined;
    for (let b = 0; b < this.blockCount; b++) {
      const block = this.#at(b);
      let e = block.entries;
      if (e === PARKED) {
        e = scratch ??= new Uint32Array(this.blockSize * STRIDE);
        (this.#spill as BlockSpill).read(block.serial, e);
      }
      for (let at = 0; at < block.size * STRIDE; at += STRIDE) {
        const meta = e[at + 3] as number;
        visit(e[at] as number, e[at + 1] as number, e[at + 2] as number, (meta & 1) === 1, meta >>> 1);
      }
    }
  }

  /**
   * Calls `visit` with each live key from (g, hi, lo) on, in order, while it returns true: a run of adjacent keys,
   * such as the members one message mentions (mentionIndex.ts), without a generator or an object per key.
   */
  forEachLiveFrom(
    g: number,
    hi: number,
    lo: number,
    visit: (group: number, hi: number, lo: number) => boolean,
  ): void {
    const first = this.blockOf(g, hi, lo);
    for (let b = first; b < this.blockCount; b++) {
      const block = this.block(b);
      const e = block.entries;
      for (let at = b === first ? block.lowerBound(g, hi, lo) : 0; at < block.size; at++) {
        const i = at * STRIDE;
        if (((e[i + 3] as number) & 1) === 0) continue;
        if (!visit(e[i] as number, e[i + 1] as number, e[i + 2] as number)) return;
      }
    }
  }

  /** Every key with its flag and payload, in order: for checks. */
  *entries(): Generator<{ group: number; hi: number; lo: number; live: boolean; payload: number }> {
    for (let b = 0; b < this.blockCount; b++) {
      const block = this.#at(b);
      let e = block.entries;
      if (e === PARKED) {
        e = new Uint32Array(block.size * STRIDE);
        (this.#spill as BlockSpill).read(block.serial, e);
      }
      for (let i = 0; i < block.size; i++) {
        const at = i * STRIDE;
        const meta = e[at + 3] as number;
        yield {
          group: e[at] as number,
          hi: e[at + 1] as number,
          lo: e[at + 2] as number,
          live: (meta & 1) === 1,
          payload: meta >>> 1,
        };
      }
    }
  }

  /** The block holding the live key of rank `rank` (< liveCount): the last whose blocks before hold at most rank. */
  private blockOfRank(rank: number): number {
    const n = this.blockCount;
    let b = 0;
    if (n > 1) {
      const tree = this.tree;
      let left = rank;
      let step = 1;
      while (step * 2 <= n) step *= 2;
      for (; step > 0; step >>>= 1) {
        const next = b + step;
        if (next <= n && (tree[next] as number) <= left) {
          b = next;
          left -= tree[next] as number;
        }
      }
    }
    return b;
  }

  /** The position in block b (`block`, loaded) of the live key of rank `rank` in the whole set. */
  private positionOfRank(b: number, block: Block, rank: number): number {
    let left = b === 0 ? rank : rank - this.livePrefix(b);
    for (let at = 0; at < block.size; at++) {
      if (block.isLive(at) && left-- === 0) return at;
    }
    throw new Error(`live key ${rank} is not in block ${b}: the live counts are out of step`);
  }

  /**
   * The first block from `from` on holding a live key whose payload is not `payload`, or -1: up the sole-payload
   * tree from `from`'s leaf to the first subtree on its right that holds one, then down it. O(log blocks).
   */
  private nextBlockHolding(from: number, payload: number): number {
    const soles = this.soles;
    const leaves = soles.length >>> 1;
    if (from >= this.blockCount) return -1;
    let node = leaves + from;
    while (!holdsOtherThan(soles[node] as number, payload)) {
      // To the next subtree to the right: up while a right child, then across. Past the root: none.
      while ((node & 1) === 1) node >>>= 1;
      if (node === 0) return -1;
      node++;
    }
    while (node < leaves) {
      node <<= 1;
      if (!holdsOtherThan(soles[node] as number, payload)) node++;
    }
    return node - leaves;
  }

  /** Block b, as it is: parked or not. */
  #at(b: number): Block {
    const blocks = this.#blocks;
    return blocks === undefined ? this.#first : (blocks[b] as Block);
  }

  /** Block b for reading, loaded when parked, stamped as used now. */
  private block(b: number): Block {
    const block = this.#at(b);
    if (block.entries === PARKED) this.#load(block);
    block.used = useTick;
    return block;
  }

  /** Block b for a change: as block(), and its parked copy, now out of date, forgotten. */
  private changing(b: number): Block {
    const block = this.block(b);
    if (block.serial !== 0) {
      (this.#spill as BlockSpill).discard(block.serial);
      block.serial = 0;
    }
    return block;
  }

  /** Brings a parked block's entries back into memory; its parked copy stays valid until it changes. */
  #load(block: Block): void {
    const entries = new Uint32Array(Math.max(FIRST_CAPACITY, block.size) * STRIDE);
    (this.#spill as BlockSpill).read(block.serial, entries);
    block.entries = entries;
    this.#parked -= block.size;
  }

  private get blockCount(): number {
    return this.#blocks?.length ?? 1;
  }

  /** Puts `block` at position b (1 to blockCount), the blocks from b on moving up one. */
  private insertBlock(b: number, block: Block): void {
    const blocks = (this.#blocks ??= [this.#first]);
    if (b === blocks.length) blocks.push(block);
    else blocks.splice(b, 0, block);
  }

  /** The block where (g, hi, lo) is or would go: the first whose last key is ≥ it, else the last. */
  private blockOf(g: number, hi: number, lo: number): number {
    const last = this.blockCount - 1;
    // Keys mostly arrive in order, so the last block is the usual answer: one comparison.
    // With more than one block, none is empty, so each has an end.
    if (last === 0 || this.endsBelow(last - 1, g, hi, lo)) return last;
    let low = 0;
    let high = last;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.endsBelow(mid, g, hi, lo)) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  /** Whether block b's greatest key is below (g, hi, lo). */
  private endsBelow(b: number, g: number, hi: number, lo: number): boolean {
    return wordsBelow(this.ends, b * KEY_WORDS, g, hi, lo);
  }

  /** Records `block` (block b, not empty) as ending with its last key. */
  private setEnd(b: number, block: Block): void {
    this.roomForEnds(b);
    const from = (block.size - 1) * STRIDE;
    const to = b * KEY_WORDS;
    const { entries } = block;
    this.ends[to] = entries[from] as number;
    this.ends[to + 1] = entries[from + 1] as number;
    this.ends[to + 2] = entries[from + 2] as number;
  }

  /** Makes `ends` long enough for block b's. */
  private roomForEnds(b: number): void {
    if (this.ends.length < (b + 1) * KEY_WORDS) {
      const ends = new Uint32Array(Math.max(this.ends.length * 2, (b + 1) * KEY_WORDS, 4 * KEY_WORDS));
      ends.set(this.ends);
      this.ends = ends;
    }
  }

  private changeLive(b: number, block: Block, delta: 1 | -1): void {
    block.liveCount += delta;
    this.#liveCount += delta;
    const n = this.blockCount;
    if (n === 1) return;
    const tree = this.tree;
    for (let i = b + 1; i <= n; i += i & -i) tree[i] = (tree[i] as number) + delta;
  }

  /** Live keys in blocks [0, b). */
  private livePrefix(b: number): number {
    let sum = 0;
    const tree = this.tree;
    for (let i = b; i > 0; i -= i & -i) sum += tree[i] as number;
    return sum;
  }

  private split(b: number): void {
    const block = this.changing(b);
    const half = block.size >>> 1;
    const right = new Block(this.blockSize);
    right.entries.set(block.entries.subarray(half * STRIDE, block.size * STRIDE));
    right.size = block.size - half;
    right.liveCount = right.countLive();
    block.size = half;
    block.liveCount -= right.liveCount;
    if (this.#keepsSoles) {
      block.sole = block.scanSole();
      right.sole = right.scanSole();
    }
    this.insertBlock(b + 1, right);
    // The ends after b move up one block (room made first), then b and b + 1 end anew. Moved as words: the
    // blocks themselves may be parked.
    const moved = this.blockCount - 1;
    this.roomForEnds(moved);
    this.ends.copyWithin((b + 2) * KEY_WORDS, (b + 1) * KEY_WORDS, moved * KEY_WORDS);
    this.setEnd(b, block);
    this.setEnd(b + 1, right);
  }

  /**
   * Gives the block just appended (empty) its node: O(log blocks), so a channel read back in order, a block at a
   * time, does not rebuild the tree at every block. The tree grows by doubling; nodes past the last block are
   * unused until their block comes.
   */
  private appendToTree(): void {
    const n = this.blockCount;
    if (n === 2 || this.tree.length === 0) {
      this.rebuildTree();
      return;
    }
    if (this.tree.length <= n) {
      const tree = new Int32Array(Math.max(this.tree.length * 2, n + 1));
      tree.set(this.tree);
      this.tree = tree;
    }
    // Node n covers blocks (n − lowbit(n), n]; the new one holds nothing live yet.
    this.tree[n] = this.livePrefix(n - 1) - this.livePrefix(n - (n & -n));
  }

  /** Sets block b's sole payload (with `solePayloads`), and its leaf's path up the tree when it changed. */
  private setSole(b: number, block: Block, sole: number): void {
    if (!this.#keepsSoles || block.sole === sole) return;
    block.sole = sole;
    const soles = this.soles;
    if (soles.length === 0) return;
    let node = (soles.length >>> 1) + b;
    soles[node] = sole;
    for (node >>>= 1; node > 0; node >>>= 1) {
      soles[node] = joinSole(soles[2 * node] as number, soles[2 * node + 1] as number);
    }
  }

  /** Gives the block just appended (empty, so NO_PAYLOAD) a leaf: the tree doubles when it has none free. */
  private appendToSoles(): void {
    if (!this.#keepsSoles) return;
    if (this.blockCount > this.soles.length >>> 1) this.rebuildSoles();
  }

  /** Builds the sole-payload tree anew from the blocks' soles (with `solePayloads` and more than one block). */
  private rebuildSoles(): void {
    const n = this.blockCount;
    if (!this.#keepsSoles || n === 1) {
      this.soles = NO_TREE;
      return;
    }
    let leaves = 1;
    while (leaves < n) leaves *= 2;
    const soles = new Int32Array(2 * leaves).fill(NO_PAYLOAD);
    for (let b = 0; b < n; b++) soles[leaves + b] = this.#at(b).sole;
    for (let node = leaves - 1; node > 0; node--) {
      soles[node] = joinSole(soles[2 * node] as number, soles[2 * node + 1] as number);
    }
    this.soles = soles;
  }

  private rebuildTree(): void {
    const n = this.blockCount;
    const tree = new Int32Array(n + 1);
    for (let i = 1; i <= n; i++) {
      tree[i] = (tree[i] as number) + this.#at(i - 1).liveCount;
      const parent = i + (i & -i);
      if (parent <= n) tree[parent] = (tree[parent] as number) + (tree[i] as number);
    }
    this.tree = tree;
  }
}
