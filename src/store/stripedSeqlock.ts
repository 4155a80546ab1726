/**
 * The hot tier's seqlock, striped: one sequence per stripe of channels instead of one for the whole tier. The
 * writer makes a stripe's sequence odd while it writes entries of that stripe's channels and even again after; a
 * reader retries a read during which its stripe's sequence was odd or changed. Every entry a read view combines
 * (a read state and its channel) belongs to one channel, so to one stripe.
 *
 * Why striped: with one sequence, a writer at 100,000 updates/s holds it odd a large share of the time, and a
 * 50-channel lookup met it several times per request; with more busy threads than cores the writer is often
 * descheduled mid-update, and every reader then slept a time slice (bench:query counted 36,645 sleeps in 30,000
 * such requests). With 4,096 stripes a reader waits only for a write to its own channel's stripe.
 *
 * A removal is different: the tables' backward-shift deletion and eviction (offHeapTable.ts) rewrite other
 * entries' slots, of any channel, a word at a time, and halfway through a slot's key words can spell a third key
 * that was never put. So removals run under one more sequence, `MOVES`, which every reader checks besides its
 * stripe. Removals are short (a few slots copied) and happen only when an entry is deleted or evicted.
 */

/** A power of two: a channel's stripe is the low bits of its hash in the channel table. */
export const STRIPES = 4096;
export const STRIPE_MASK = STRIPES - 1;
/** The sequence of removals, after the stripes: odd while a table moves or evicts entries. */
export const MOVES = STRIPES;
/** How many readers sleep until some sequence changes. */
const SLEEPERS = STRIPES + 1;

/** The shared words: the stripes' sequences, the removals' and the sleepers' count. Structured-cloneable. */
export function createSeqlockBuffer(): SharedArrayBuffer {
  return new SharedArrayBuffer((STRIPES + 2) * 4);
}

/** The writer's side, for a stripe or `MOVES`. Nested begins of one sequence make it odd once. */
export class SeqlockWriter {
  readonly #sequences: Int32Array;
  /** Writer-local: how many begins of each sequence are open. */
  readonly #depths = new Uint32Array(STRIPES + 1);

  constructor(buffer: SharedArrayBuffer) {
    this.#sequences = new Int32Array(buffer);
  }

  begin(stripe: number): void {
    const depth = this.#depths[stripe] ?? 0;
    this.#depths[stripe] = depth + 1;
    if (depth === 0) Atomics.add(this.#sequences, stripe, 1);
  }

  end(stripe: number): void {
    const depth = (this.#depths[stripe] ?? 0) - 1;
    // An end without its begin would leave the sequence unguarded for good: fail loudly instead.
    if (depth < 0) throw new Error(`seqlock: end(${stripe}) without a begin`);
    this.#depths[stripe] = depth;
    if (depth !== 0) return;
    const sequences = this.#sequences;
    Atomics.add(sequences, stripe, 1);
    // A reader counts itself before it sleeps and sleeps only while the sequence is still what it saw (odd), so
    // one this load misses sees the new sequence and does not sleep.
    if (Atomics.load(sequences, SLEEPERS) > 0) Atomics.notify(sequences, stripe);
  }

  /** Every stripe and `MOVES`: for a write that changes everything (clearing the tables). */
  beginAll(): void {
    for (let sequence = 0; sequence <= MOVES; sequence++) this.begin(sequence);
  }

  endAll(): void {
    for (let sequence = 0; sequence <= MOVES; sequence++) this.end(sequence);
  }
}

/**
 * A reader's wait for the writer to end an update of `stripe` (or a removal: `MOVES`), whose sequence it saw
 * `seen` (odd): sleeps until the sequence changes or `timeoutMs` passes.
 */
export function sleepWhileWriting(
  sequences: Int32Array,
  stripe: number,
  seen: number,
  timeoutMs: number,
): void {
  Atomics.add(sequences, SLEEPERS, 1);
  Atomics.wait(sequences, stripe, seen, timeoutMs);
  Atomics.sub(sequences, SLEEPERS, 1);
}
