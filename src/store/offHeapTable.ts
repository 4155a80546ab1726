/**
 * An open-addressing hash table of fixed-size records in one SharedArrayBuffer: nothing per entry on the V8 heap,
 * so millions of entries cost the garbage collector nothing to scan, and another thread can be given the buffer.
 *
 * Keys are two uint64 ids, each as (hi, lo) uint32 words; a table keyed by one id passes 0, 0 for the second.
 * Values are `valueWords` uint32 words. Key words are taken as uint32 (`x >>> 0`), so -1 and 0xffffffff are one key.
 *
 * Layout, in uint32 words: a 16-word header (capacity, value words, max entries, size, clock hand), then
 * `capacity` slots of [k1hi, k1lo, k2hi, k2lo, meta, value × valueWords]. Meta is 0 for an empty slot, else
 * OCCUPIED | REFERENCED? | 30 bits of the key's hash: comparing it first skips most key compares, and deletion
 * finds an entry's home slot without hashing again.
 *
 * Linear probing, with backward-shift deletion (no tombstones, so probe runs never grow with churn). At most
 * `maxEntries` (the max load factor of the capacity) are held; inserting beyond that evicts one entry chosen by
 * CLOCK: a hand sweeps the slots, clearing reference bits (set by `get`) and evicting the first entry without one.
 *
 * One thread writes; others may read the same buffer through `OffHeapTable.attach`, with `peek` (no writes) and
 * `touch` (an atomic compare-and-set of the reference bit, which at worst marks the wrong entry). A peek that
 * races a write can see a torn entry: readers must check a sequence the writer bumps around its writes (the hot
 * tier's seqlock) and retry; a removal also rewrites other entries' slots, which a `guard` is told of. Probes
 * are bounded so that a racing read always ends.
 */

export type KeyHash = (k1hi: number, k1lo: number, k2hi: number, k2lo: number) => number;
export type EvictionListener = (k1hi: number, k1lo: number, k2hi: number, k2lo: number) => void;
/**
 * Told before and after every removal (a delete or an eviction): a removal rewrites other entries' slots, a word
 * at a time, and a reader that checks only its own key's seqlock stripe must also check one the guard holds.
 */
export interface RemovalGuard {
  removing(): void;
  removed(): void;
}

export type OffHeapTableOptions = {
  /** uint32 words per value, 0 to 255. */
  readonly valueWords: number;
  /** Bytes for the slots; the capacity is as many slots as fit (`capacityForBudget`). */
  readonly bytesBudget?: number;
  /** Slots, from 2 up: instead of `bytesBudget`, for tests. */
  readonly capacity?: number;
  /** The share of slots that may hold entries before inserting evicts; above 0, below 1. Default 0.8. */
  readonly maxLoadFactor?: number;
  /** Defaults to `murmurKeyHash`; tests inject weak ones to force collisions. Only the low 30 bits are used. */
  readonly hash?: KeyHash;
  /** Told the key of each entry evicted to make room, before it goes; it must not use the table. */
  readonly onEvict?: EvictionListener;
  /** Told before and after each removal (see RemovalGuard); it must not use the table. */
  readonly guard?: RemovalGuard;
};

export type OffHeapTableStats = {
  readonly capacity: number;
  readonly maxEntries: number;
  readonly size: number;
  readonly bytes: number;
  readonly hits: number;
  readonly misses: number;
  /** New keys; overwrites of a held key are `updates`. */
  readonly inserts: number;
  readonly updates: number;
  readonly deletes: number;
  readonly evictions: number;
};

export const HEADER_WORDS = 16;
export const HEADER_BYTES = HEADER_WORDS * 4;
const KEY_WORDS = 4;
const META = KEY_WORDS;
const VALUES = KEY_WORDS + 1;
const H_CAPACITY = 0;
const H_VALUE_WORDS = 1;
const H_MAX_ENTRIES = 2;
const H_SIZE = 3;
const H_HAND = 4;

const OCCUPIED = 0x80000000;
const REFERENCED = 0x40000000;
const HASH_BITS = 0x3fffffff;
const MAX_VALUE_WORDS = 255;
/** Keeps every word index below 2^31, where V8 indexes typed arrays on its fast path. */
const MAX_WORDS = 2 ** 31;
const DEFAULT_MAX_LOAD_FACTOR = 0.8;

/** Bytes of one slot: four key words, the meta word and the value words. */
export function slotBytes(valueWords: number): number {
  return (VALUES + valueWords) * 4;
}

/**
 * The capacity a byte budget buys: as many slots as fit in it (the 64-byte header comes on top), capped so that
 * word indexes stay below 2^31 (for 12-word slots, ~2^27 slots, 6 GiB). 0 when not even 2 fit. Any count works:
 * a key's home slot is its hash modulo the capacity, so no budget is lost to rounding to a power of two.
 */
export function capacityForBudget(bytesBudget: number, valueWords: number): number {
  const slotWords = VALUES + valueWords;
  const fits = Math.floor(
    Math.min(bytesBudget / (slotWords * 4), (MAX_WORDS - HEADER_WORDS - 1) / slotWords),
  );
  return fits >= 2 ? fits : 0;
}

/** murmur3 (x86, 32-bit) of the 16 key bytes: every input bit reaches every output bit. */
export function murmurKeyHash(k1hi: number, k1lo: number, k2hi: number, k2lo: number): number {
  let h = mixWord(0, k1lo);
  h = mixWord(h, k1hi);
  h = mixWord(h, k2lo);
  h = mixWord(h, k2hi);
  h ^= 16;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function mixWord(h: number, word: number): number {
  let k = Math.imul(word, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

export class OffHeapTable {
  readonly buffer: SharedArrayBuffer;
  readonly capacity: number;
  readonly maxEntries: number;
  readonly valueWords: number;
  #hits = 0;
  #misses = 0;
  #inserts = 0;
  #updates = 0;
  #deletes = 0;
  #evictions = 0;
  readonly #words: Uint32Array;
  readonly #ints: Int32Array;
  readonly #slotWords: number;

  readonly #hash: KeyHash;
  readonly #onEvict: EvictionListener | undefined;
  readonly #guard: RemovalGuard | undefined;

  /**
   * A second view of a table another thread writes: for `peek`, `touch` and `size` only. `hash` must be the
   * writer's (functions cannot cross threads, so it is passed again).
   */
  static attach(buffer: SharedArrayBuffer, options: { hash?: KeyHash } = {}): OffHeapTable {
    const header = new Uint32Array(buffer, 0, HEADER_WORDS);
    const capacity = header[H_CAPACITY] ?? 0;
    const valueWords = header[H_VALUE_WORDS] ?? 0;
    if (buffer.byteLength !== (HEADER_WORDS + capacity * (VALUES + valueWords)) * 4) {
      throw new RangeError('the buffer does not hold an OffHeapTable');
    }
    return new OffHeapTable(
      { valueWords, capacity, ...(options.hash ? { hash: options.hash } : {}) },
      buffer,
    );
  }

  constructor(options: OffHeapTableOptions, attachTo?: SharedArrayBuffer) {
    const { valueWords, bytesBudget, maxLoadFactor = DEFAULT_MAX_LOAD_FACTOR } = options;
    if (!Number.isInteger(valueWords) || valueWords < 0 || valueWords > MAX_VALUE_WORDS) {
      throw new RangeError(
        `valueWords must be a whole number from 0 to ${MAX_VALUE_WORDS} (got ${valueWords})`,
      );
    }
    if (!(maxLoadFactor > 0 && maxLoadFactor < 1)) {
      throw new RangeError(
        `maxLoadFactor must lie between 0 and 1, exclusive (got ${maxLoadFactor}); ${DEFAULT_MAX_LOAD_FACTOR} is the default`,
      );
    }
    let capacity: number;
    if (options.capacity !== undefined) {
      if (bytesBudget !== undefined) throw new RangeError('give either capacity or bytesBudget, not both');
      capacity = options.capacity;
      const valid = Number.isInteger(capacity) && capacity >= 2;
      if (!valid || HEADER_WORDS + capacity * (VALUES + valueWords) >= MAX_WORDS) {
        throw new RangeError(
          `capacity must be a whole number of slots from 2 up, ${capacity} is not (or is too large)`,
        );
      }
    } else {
      if (bytesBudget === undefined) throw new RangeError('give bytesBudget (or capacity, in tests)');
      capacity = capacityForBudget(bytesBudget, valueWords);
      if (capacity === 0) {
        throw new RangeError(
          `bytesBudget ${bytesBudget} holds fewer than 2 slots; give at least ${2 * slotBytes(valueWords)}`,
        );
      }
    }
    this.capacity = capacity;
    this.valueWords = valueWords;
    // One slot always stays empty, so every probe ends.
    this.maxEntries = Math.max(1, Math.min(capacity - 1, Math.floor(capacity * maxLoadFactor)));
    this.#slotWords = VALUES + valueWords;
    this.#hash = options.hash ?? murmurKeyHash;
    this.#onEvict = options.onEvict;
    this.#guard = options.guard;
    this.buffer = attachTo ?? new SharedArrayBuffer((HEADER_WORDS + capacity * this.#slotWords) * 4);
    this.#words = new Uint32Array(this.buffer);
    this.#ints = new Int32Array(this.buffer);
    if (attachTo !== undefined) {
      this.maxEntries = this.#words[H_MAX_ENTRIES] ?? 0;
      return;
    }
    this.#words[H_CAPACITY] = capacity;
    this.#words[H_VALUE_WORDS] = valueWords;
    this.#words[H_MAX_ENTRIES] = this.maxEntries;
  }

  get size(): number {
    return this.#words[H_SIZE] ?? 0;
  }

  /** Copies the value into `out` and marks the entry referenced, so CLOCK spares it once. */
  get(k1hi: number, k1lo: number, k2hi: number, k2lo: number, out: Uint32Array): boolean {
    const slot = this.#slotOf(k1hi >>> 0, k1lo >>> 0, k2hi >>> 0, k2lo >>> 0);
    if (slot < 0) {
      this.#misses++;
      return false;
    }
    this.#hits++;
    const words = this.#words;
    const base = HEADER_WORDS + slot * this.#slotWords;
    const meta = words[base + META] ?? 0;
    // Only write when the bit changes: a read of a hot entry then dirties no cache line.
    if ((meta & REFERENCED) === 0) words[base + META] = meta | REFERENCED;
    const from = base + VALUES;
    for (let i = 0; i < this.valueWords; i++) out[i] = words[from + i] ?? 0;
    return true;
  }

  /**
   * For readers on another thread: copies the value into `out` and returns its slot (for `touch`), or −1. Writes
   * nothing, counts nothing.
   */
  peek(k1hi: number, k1lo: number, k2hi: number, k2lo: number, out: Uint32Array): number {
    const slot = this.#slotOf(k1hi >>> 0, k1lo >>> 0, k2hi >>> 0, k2lo >>> 0);
    if (slot < 0) return -1;
    const words = this.#words;
    const from = HEADER_WORDS + slot * this.#slotWords + VALUES;
    for (let i = 0; i < this.valueWords; i++) out[i] = words[from + i] ?? 0;
    return slot;
  }

  /** The key's hash as `valueIndexOf` takes it: computed once, for a probe that may be retried. */
  hashOf(k1hi: number, k1lo: number, k2hi: number, k2lo: number): number {
    return this.#hash(k1hi >>> 0, k1lo >>> 0, k2hi >>> 0, k2lo >>> 0) & HASH_BITS;
  }

  /**
   * The table's words as int32 (the same memory), for readers on another thread: `valueIndexOf` says where a
   * key's values start. Read only. Int32 keeps every word a small integer in V8 (no boxed doubles on the lookup
   * path); a word's bits are the same either way.
   */
  get ints(): Int32Array {
    return this.#ints;
  }

  /**
   * The meta word of the hash's home slot. Reading it starts the slot's fetch from memory: a reader of two tables
   * reads both home slots before it examines either, so that their cache misses overlap instead of following
   * each other (at 8M entries each probe is a miss of ~200 ns).
   */
  homeMeta(hash: number): number {
    return this.#ints[HEADER_WORDS + (hash % this.capacity) * this.#slotWords + META] ?? 0;
  }

  /**
   * For readers: the index in `ints` of the key's first value word, or −1; `hash` from `hashOf`, key words as
   * int32 (`x | 0`). Writes nothing, counts nothing; a racing write can make it see a torn entry (see the class
   * comment). Bounded like `#find`.
   */
  valueIndexOf(hash: number, k1hi: number, k1lo: number, k2hi: number, k2lo: number): number {
    const ints = this.#ints;
    const slotWords = this.#slotWords;
    const capacity = this.capacity;
    let slot = hash % capacity;
    let base = HEADER_WORDS + slot * slotWords;
    for (let probes = 0; probes < capacity; probes++) {
      const meta = ints[base + META] ?? 0;
      if (meta === 0) return -1;
      if (
        (meta & HASH_BITS) === hash &&
        ints[base] === k1hi &&
        ints[base + 1] === k1lo &&
        ints[base + 2] === k2hi &&
        ints[base + 3] === k2lo
      ) {
        return base + VALUES;
      }
      slot++;
      base += slotWords;
      if (slot === capacity) {
        slot = 0;
        base = HEADER_WORDS;
      }
    }
    return -1;
  }

  /** `touch` by the index `valueIndexOf` gave. */
  touchAt(valueIndex: number): void {
    const index = valueIndex - VALUES + META;
    const meta = Atomics.load(this.#ints, index);
    if (meta !== 0 && (meta & REFERENCED) === 0) {
      Atomics.compareExchange(this.#ints, index, meta, meta | REFERENCED);
    }
  }

  /**
   * Marks the entry in `slot` referenced, as `get` does, with a compare-and-set so that a racing write is never
   * undone: if the writer changed the slot meanwhile, the mark is lost or lands on another entry, which only
   * shifts which entry CLOCK evicts.
   */
  touch(slot: number): void {
    const index = HEADER_WORDS + slot * this.#slotWords + META;
    const meta = Atomics.load(this.#words, index);
    if ((meta & OCCUPIED) !== 0 && (meta & REFERENCED) === 0) {
      Atomics.compareExchange(this.#words, index, meta, (meta | REFERENCED) >>> 0);
    }
  }

  /** Whether the key is held, without marking it referenced or counting a hit or miss. */
  has(k1hi: number, k1lo: number, k2hi: number, k2lo: number): boolean {
    return this.#slotOf(k1hi >>> 0, k1lo >>> 0, k2hi >>> 0, k2lo >>> 0) >= 0;
  }

  /**
   * Inserts or overwrites. A new entry starts unreferenced: it earns its second chance by being read, so entries
   * written but never read go first. An overwrite keeps the entry's reference bit. When `maxEntries` are held,
   * inserting a new key first evicts one entry (see the class comment).
   */
  set(k1hi: number, k1lo: number, k2hi: number, k2lo: number, values: ArrayLike<number>): void {
    this.#checkValues('set', values);
    k1hi >>>= 0;
    k1lo >>>= 0;
    k2hi >>>= 0;
    k2lo >>>= 0;
    const words = this.#words;
    const hash = this.#hash(k1hi, k1lo, k2hi, k2lo) & HASH_BITS;
    let slot = this.#find(hash, k1hi, k1lo, k2hi, k2lo);
    if (slot >= 0) {
      this.#updates++;
    } else {
      // Evicting shifts entries, so the free slot is looked for only afterwards.
      if (this.size >= this.maxEntries) this.#evictOne();
      slot = hash % this.capacity;
      while ((words[HEADER_WORDS + slot * this.#slotWords + META] ?? 0) !== 0) slot = this.#after(slot);
      const base = HEADER_WORDS + slot * this.#slotWords;
      words[base] = k1hi;
      words[base + 1] = k1lo;
      words[base + 2] = k2hi;
      words[base + 3] = k2lo;
      words[base + META] = OCCUPIED | hash;
      words[H_SIZE] = this.size + 1;
      this.#inserts++;
    }
    this.#writeValues(slot, values);
  }

  /** Overwrites the key's value if it is held (as `set` does); false, and nothing written, when it is not. */
  replace(k1hi: number, k1lo: number, k2hi: number, k2lo: number, values: ArrayLike<number>): boolean {
    this.#checkValues('replace', values);
    const slot = this.#slotOf(k1hi >>> 0, k1lo >>> 0, k2hi >>> 0, k2lo >>> 0);
    if (slot < 0) return false;
    this.#updates++;
    this.#writeValues(slot, values);
    return true;
  }

  /** Removes the key; false when it was not held. */
  delete(k1hi: number, k1lo: number, k2hi: number, k2lo: number): boolean {
    const slot = this.#slotOf(k1hi >>> 0, k1lo >>> 0, k2hi >>> 0, k2lo >>> 0);
    if (slot < 0) return false;
    this.#removeAt(slot);
    this.#deletes++;
    return true;
  }

  /** Drops every entry; the counters keep counting. */
  clear(): void {
    this.#words.fill(0, HEADER_WORDS);
    this.#words[H_SIZE] = 0;
    this.#words[H_HAND] = 0;
  }

  stats(): OffHeapTableStats {
    return {
      capacity: this.capacity,
      maxEntries: this.maxEntries,
      size: this.size,
      bytes: this.buffer.byteLength,
      hits: this.#hits,
      misses: this.#misses,
      inserts: this.#inserts,
      updates: this.#updates,
      deletes: this.#deletes,
      evictions: this.#evictions,
    };
  }

  #checkValues(call: string, values: ArrayLike<number>): void {
    if (values.length < this.valueWords) {
      throw new RangeError(`${call} needs ${this.valueWords} value words, got ${values.length}`);
    }
  }

  #writeValues(slot: number, values: ArrayLike<number>): void {
    const words = this.#words;
    const from = HEADER_WORDS + slot * this.#slotWords + VALUES;
    for (let i = 0; i < this.valueWords; i++) words[from + i] = values[i] ?? 0;
  }

  /** The next slot, cyclically. */
  #after(slot: number): number {
    return slot + 1 === this.capacity ? 0 : slot + 1;
  }

  #slotOf(k1hi: number, k1lo: number, k2hi: number, k2lo: number): number {
    return this.#find(this.#hash(k1hi, k1lo, k2hi, k2lo) & HASH_BITS, k1hi, k1lo, k2hi, k2lo);
  }

  /**
   * The slot holding the key, or −1. Ends at the first empty slot: at least one always exists, though a reader
   * racing the writer might keep missing it, so the probe also ends after a full turn.
   */
  #find(hash: number, k1hi: number, k1lo: number, k2hi: number, k2lo: number): number {
    const words = this.#words;
    const slotWords = this.#slotWords;
    let slot = hash % this.capacity;
    for (let probes = 0; probes < this.capacity; probes++) {
      const base = HEADER_WORDS + slot * slotWords;
      const meta = words[base + META] ?? 0;
      if (meta === 0) return -1;
      if (
        (meta & HASH_BITS) === hash &&
        words[base] === k1hi &&
        words[base + 1] === k1lo &&
        words[base + 2] === k2hi &&
        words[base + 3] === k2lo
      ) {
        return slot;
      }
      slot = this.#after(slot);
    }
    return -1;
  }

  /**
   * CLOCK: sweep from the hand, clearing reference bits, and evict the first entry without one. Ends within two
   * sweeps, since the first clears every bit.
   */
  #evictOne(): void {
    const words = this.#words;
    let hand = words[H_HAND] ?? 0;
    for (;;) {
      const base = HEADER_WORDS + hand * this.#slotWords;
      const meta = words[base + META] ?? 0;
      if ((meta & REFERENCED) !== 0) {
        words[base + META] = meta & ~REFERENCED;
      } else if (meta !== 0) {
        this.#evictions++;
        this.#onEvict?.(words[base] ?? 0, words[base + 1] ?? 0, words[base + 2] ?? 0, words[base + 3] ?? 0);
        this.#removeAt(hand);
        words[H_HAND] = this.#after(hand);
        return;
      }
      hand = this.#after(hand);
    }
  }

  /**
   * Backward-shift deletion: walk the run after the hole and move back each entry whose home slot is not in
   * (hole, its slot], cyclically; such an entry's probe path crosses the hole, so it must not stay behind it.
   * The run then has no gap that a lookup would stop at before reaching its key.
   */
  #removeAt(slot: number): void {
    const words = this.#words;
    const slotWords = this.#slotWords;
    const guard = this.#guard;
    guard?.removing();
    let hole = slot;
    let next = slot;
    for (;;) {
      next = this.#after(next);
      const base = HEADER_WORDS + next * slotWords;
      const meta = words[base + META] ?? 0;
      if (meta === 0) break;
      const home = (meta & HASH_BITS) % this.capacity;
      const staysPut = hole <= next ? hole < home && home <= next : hole < home || home <= next;
      if (staysPut) continue;
      const holeBase = HEADER_WORDS + hole * slotWords;
      for (let i = 0; i < slotWords; i++) words[holeBase + i] = words[base + i] ?? 0;
      hole = next;
    }
    words[HEADER_WORDS + hole * slotWords + META] = 0;
    words[H_SIZE] = this.size - 1;
    guard?.removed();
  }
}
