/**
 * Where the blocks of CountedIds keep their entries: views into 1 MiB slabs, carved one after another per
 * length, and views given back kept for the next block of that length.
 *
 * Why not a Uint32Array each: above 64 bytes V8 puts a typed array's memory outside its heap, and making one
 * costs an allocation by malloc, an ArrayBuffer and the collector's bookkeeping of both: 0.5–1.8 µs against
 * 40 ns for a view (Node 24, this machine). With channels evicted and read back all the time (the resident
 * budget full), making blocks was a fifth of the write path's time and most of its garbage. And malloc, asked for
 * arrays of every size from 32 bytes to 2 KiB freed and made again in other sizes, kept a growing share of what
 * was freed: a test of a million such arrays, half replaced six times, held 1,232 MiB above its start one array
 * each and 793 MiB in slabs (decision 0003, "Blocks in slabs").
 *
 * A view given back must be referenced no more: the next `take` of its length hands it out again. Views never
 * given back (a set dropped without `release`) are only lost to the pool; the collector frees a slab once
 * nothing views it.
 */

/** Bytes of a slab. */
export const SLAB_BYTES = 1 << 20;
const SLAB_WORDS = SLAB_BYTES / 4;
/** Longer requests are plain arrays, neither pooled nor kept when given back: a slab holds at least 16. */
export const MAX_POOLED_WORDS = SLAB_WORDS / 16;

export class WordPool {
  /** Views given back, by length. */
  readonly #free: Uint32Array[][] = [];
  /** The slab being carved for each length, and the word where its next view starts. */
  readonly #slabs: Uint32Array[] = [];
  readonly #carved: number[] = [];
  /** Slabs made so far. */
  slabs = 0;
  /** Words in views given back and not taken again. */
  freeWords = 0;

  /** A view of `words` words (whatever they held before: the caller writes before it reads). */
  take(words: number): Uint32Array {
    if (words > MAX_POOLED_WORDS || words === 0) return new Uint32Array(words);
    const free = this.#free[words];
    const reused = free?.pop();
    if (reused !== undefined) {
      this.freeWords -= words;
      return reused;
    }
    let slab = this.#slabs[words];
    let at = this.#carved[words] ?? 0;
    if (slab === undefined || at + words > SLAB_WORDS) {
      slab = new Uint32Array(SLAB_WORDS);
      this.#slabs[words] = slab;
      this.slabs++;
      at = 0;
    }
    this.#carved[words] = at + words;
    return slab.subarray(at, at + words);
  }

  /** Takes `entries` back, to be handed out again: nothing may reference it any more. */
  give(entries: Uint32Array): void {
    const words = entries.length;
    if (words > MAX_POOLED_WORDS || words === 0) return;
    (this.#free[words] ??= []).push(entries);
    this.freeWords += words;
  }

  /** Bytes of slabs made: what the pool holds, in use or free. */
  get bytes(): number {
    return this.slabs * SLAB_BYTES;
  }
}
