/**
 * A sorted set of 64-bit ids, each live or dead, that counts the live ids above any id in O(log n): a channel's
 * messages (dead ones are tombstones, so a late message_sent of a deleted id is still known), or the live
 * messages one member wrote or was mentioned in.
 *
 * Ids are two uint32 words (hi, lo), kept in typed arrays in blocks of sorted entries: no object per id, so the
 * collector has a few arrays to trace however many ids there are. A Fenwick tree over the blocks' live counts
 * gives the live ids after any block in O(log blocks); the block itself is scanned (at most `blockSize`
 * entries). Appends above the greatest id (nearly every message) are O(1); an id below it is inserted into its
 * block, which splits in two when full. Killing an id only clears its flag: ids are never removed.
 *
 * Each entry carries one int32 `payload` (the message's author for a channel's messages; unused otherwise).
 */

/** What `state` finds for an id. */
export const ABSENT = -1;
export const DEAD = 0;
export const LIVE = 1;
export type IdState = typeof ABSENT | typeof DEAD | typeof LIVE;

/** Entries per block before it splits. 128 keeps a scan within a block to a couple of cache lines per word. */
export const DEFAULT_BLOCK_SIZE = 128;
const FIRST_CAPACITY = 4;

class Block {
  /** hi, lo of entry i at 2i, 2i + 1. */
  words: Uint32Array;
  live: Uint8Array;
  payload: Int32Array;
  size = 0;
  liveCount = 0;

  constructor(capacity: number) {
    this.words = new Uint32Array(capacity * 2);
    this.live = new Uint8Array(capacity);
    this.payload = new Int32Array(capacity);
  }

  get capacity(): number {
    return this.live.length;
  }

  grow(capacity: number): void {
    const words = new Uint32Array(capacity * 2);
    words.set(this.words);
    const live = new Uint8Array(capacity);
    live.set(this.live);
    const payload = new Int32Array(capacity);
    payload.set(this.payload);
    this.words = words;
    this.live = live;
    this.payload = payload;
  }

  /** The first position whose id is ≥ (hi, lo), or `size`. */
  lowerBound(hi: number, lo: number): number {
    const words = this.words;
    let low = 0;
    let high = this.size;
    while (low < high) {
      const mid = (low + high) >>> 1;
      const midHi = words[2 * mid] as number;
      if (midHi < hi || (midHi === hi && (words[2 * mid + 1] as number) < lo)) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  /** Whether entry `at` holds (hi, lo). */
  holds(at: number, hi: number, lo: number): boolean {
    return at < this.size && this.words[2 * at] === hi && this.words[2 * at + 1] === lo;
  }

  /** Live entries at positions ≥ `from`. */
  liveFrom(from: number): number {
    if (from === 0) return this.liveCount;
    let count = 0;
    const live = this.live;
    for (let i = from; i < this.size; i++) count += live[i] as number;
    return count;
  }

  /** Whether the last entry is below (hi, lo). An empty block holds nothing above anything. */
  endsBelow(hi: number, lo: number): boolean {
    if (this.size === 0) return true;
    const lastHi = this.words[2 * this.size - 2] as number;
    return lastHi < hi || (lastHi === hi && (this.words[2 * this.size - 1] as number) < lo);
  }
}

export class CountedIds {
  readonly blockSize: number;
  /** In id order; never empty, and only the first may be empty. */
  private blocks: Block[];
  /** Fenwick tree over the blocks' live counts (index i + 1 for block i); unused while there is one block. */
  private tree = new Int32Array(0);
  #liveCount = 0;
  #size = 0;

  constructor(blockSize = DEFAULT_BLOCK_SIZE) {
    if (!(Number.isInteger(blockSize) && blockSize >= 4)) {
      throw new RangeError(`blockSize must be a whole number of at least 4 (got ${blockSize})`);
    }
    this.blockSize = blockSize;
    this.blocks = [new Block(Math.min(FIRST_CAPACITY, blockSize))];
  }

  /** Live ids. */
  get liveCount(): number {
    return this.#liveCount;
  }

  /** Ids, live and dead. */
  get size(): number {
    return this.#size;
  }

  state(hi: number, lo: number): IdState {
    const block = this.blocks[this.blockOf(hi, lo)] as Block;
    const at = block.lowerBound(hi, lo);
    if (!block.holds(at, hi, lo)) return ABSENT;
    return block.live[at] === 1 ? LIVE : DEAD;
  }

  /** Adds (hi, lo), which must be absent. */
  insert(hi: number, lo: number, live: boolean, payload = 0): void {
    let b = this.blockOf(hi, lo);
    let block = this.blocks[b] as Block;
    let at = block.lowerBound(hi, lo);
    if (block.holds(at, hi, lo)) throw new Error(`id ${hi}:${lo} is already in the set`);
    if (block.size === this.blockSize) {
      if (at === block.size && b === this.blocks.length - 1) {
        // An append to a full last block starts a new one: appends leave blocks full, not half empty.
        block = new Block(Math.min(FIRST_CAPACITY, this.blockSize));
        this.blocks.push(block);
        b++;
        at = 0;
      } else {
        this.split(b);
        const left = this.blocks[b] as Block;
        if (at > left.size) {
          at -= left.size;
          b++;
        }
        block = this.blocks[b] as Block;
      }
      this.rebuildTree();
    } else if (block.size === block.capacity) {
      block.grow(Math.min(block.capacity * 2, this.blockSize));
    }
    const { words } = block;
    if (at < block.size) {
      words.copyWithin(2 * at + 2, 2 * at, 2 * block.size);
      block.live.copyWithin(at + 1, at, block.size);
      block.payload.copyWithin(at + 1, at, block.size);
    }
    words[2 * at] = hi;
    words[2 * at + 1] = lo;
    block.live[at] = live ? 1 : 0;
    block.payload[at] = payload;
    block.size++;
    this.#size++;
    if (live) this.changeLive(b, block, 1);
  }

  /** Marks the live id (hi, lo) dead and returns its payload. */
  kill(hi: number, lo: number): number {
    const b = this.blockOf(hi, lo);
    const block = this.blocks[b] as Block;
    const at = block.lowerBound(hi, lo);
    if (!block.holds(at, hi, lo) || block.live[at] !== 1) throw new Error(`id ${hi}:${lo} is not live`);
    block.live[at] = 0;
    this.changeLive(b, block, -1);
    return block.payload[at] as number;
  }

  /** Live ids above (hi, lo). */
  liveAbove(hi: number, lo: number): number {
    if (this.#liveCount === 0) return 0;
    const b = this.blockOf(hi, lo);
    const block = this.blocks[b] as Block;
    let at = block.lowerBound(hi, lo);
    if (block.holds(at, hi, lo)) at++;
    const inBlock = block.liveFrom(at);
    if (b === this.blocks.length - 1) return inBlock;
    return inBlock + this.#liveCount - this.livePrefix(b + 1);
  }

  /** Writes the greatest live id to out[0], out[1]; false when no id is live. */
  maxLive(out: Uint32Array): boolean {
    if (this.#liveCount === 0) return false;
    for (let b = this.blocks.length - 1; b >= 0; b--) {
      const block = this.blocks[b] as Block;
      if (block.liveCount === 0) continue;
      for (let i = block.size - 1; i >= 0; i--) {
        if (block.live[i] === 1) {
          out[0] = block.words[2 * i] as number;
          out[1] = block.words[2 * i + 1] as number;
          return true;
        }
      }
    }
    return false;
  }

  /** Whether (hi, lo) is above every live id (true when none is live): an insert of it is an append. */
  aboveLive(hi: number, lo: number, scratch: Uint32Array): boolean {
    if (!this.maxLive(scratch)) return true;
    const maxHi = scratch[0] as number;
    return hi > maxHi || (hi === maxHi && lo > (scratch[1] as number));
  }

  /** Every id with its flag and payload, in order: for checks and serialisation. */
  *entries(): Generator<{ hi: number; lo: number; live: boolean; payload: number }> {
    for (const block of this.blocks) {
      for (let i = 0; i < block.size; i++) {
        yield {
          hi: block.words[2 * i] as number,
          lo: block.words[2 * i + 1] as number,
          live: block.live[i] === 1,
          payload: block.payload[i] as number,
        };
      }
    }
  }

  /** The block where (hi, lo) is or would go: the first whose last id is ≥ it, else the last. */
  private blockOf(hi: number, lo: number): number {
    const blocks = this.blocks;
    const last = blocks.length - 1;
    // Ids mostly arrive in order, so the last block is the usual answer: one comparison.
    if (last === 0 || (blocks[last - 1] as Block).endsBelow(hi, lo)) return last;
    let low = 0;
    let high = last;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if ((blocks[mid] as Block).endsBelow(hi, lo)) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  private changeLive(b: number, block: Block, delta: 1 | -1): void {
    block.liveCount += delta;
    this.#liveCount += delta;
    if (this.blocks.length === 1) return;
    const tree = this.tree;
    for (let i = b + 1; i < tree.length; i += i & -i) tree[i] = (tree[i] as number) + delta;
  }

  /** Live ids in blocks [0, b). */
  private livePrefix(b: number): number {
    let sum = 0;
    const tree = this.tree;
    for (let i = b; i > 0; i -= i & -i) sum += tree[i] as number;
    return sum;
  }

  private split(b: number): void {
    const block = this.blocks[b] as Block;
    const half = block.size >>> 1;
    const right = new Block(this.blockSize);
    const moved = block.size - half;
    right.words.set(block.words.subarray(2 * half, 2 * block.size));
    right.live.set(block.live.subarray(half, block.size));
    right.payload.set(block.payload.subarray(half, block.size));
    right.size = moved;
    right.liveCount = countLive(right);
    block.size = half;
    block.liveCount -= right.liveCount;
    this.blocks.splice(b + 1, 0, right);
  }

  private rebuildTree(): void {
    const n = this.blocks.length;
    const tree = new Int32Array(n + 1);
    for (let i = 1; i <= n; i++) {
      tree[i] = (tree[i] as number) + (this.blocks[i - 1] as Block).liveCount;
      const parent = i + (i & -i);
      if (parent <= n) tree[parent] = (tree[parent] as number) + (tree[i] as number);
    }
    this.tree = tree;
  }
}

function countLive(block: Block): number {
  let count = 0;
  for (let i = 0; i < block.size; i++) count += block.live[i] as number;
  return count;
}
