/**
 * One allocation carved into the typed arrays of a channel read back from disk: the blocks of the sets it fills
 * together become views of one array instead of an array each.
 *
 * Why: a caught-up projector whose working set outgrows the resident budget reads a small channel back for
 * about every fifth event, and each typed array over 64 bytes is made outside V8's heap, about 1.5 µs each, with
 * a record the collector tracks and sweeps (in a 10-minute soak evicting throughout, 29 of the engine's 595 busy
 * seconds went to making such arrays; decision 0003).
 *
 * A view taken here lives as long as its channel: one that a block outgrows or parks is not reused, and the
 * array is freed once no view of it is left. So only what is sized exactly (a fill) takes from an arena.
 */
export class WordArena {
  readonly #words: Uint32Array<ArrayBuffer>;
  #at = 0;

  /** An arena of `words` 32-bit words, zeroed. */
  constructor(words: number) {
    this.#words = new Uint32Array(words);
  }

  /** The next `length` words, zeroed; a new array of its own when fewer than that are left. */
  take(length: number): Uint32Array<ArrayBuffer> {
    const at = this.#at;
    if (at + length > this.#words.length) return new Uint32Array(length);
    this.#at = at + length;
    return this.#words.subarray(at, at + length);
  }

  /** Words not taken yet. */
  get left(): number {
    return this.#words.length - this.#at;
  }
}
