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
 * Entries the writer moves or removes while writing another channel (a table's eviction and backward-shift
 * deletion) are changed under their own stripes too: the table reports each one (`EntryGuard`) and the writer
 * holds all their stripes odd until the removal is done, since a reader may still be looking at the slot an
 * entry left.
 */

/** A power of two: a channel's stripe is the low bits of its hash in the channel table. */
export const STRIPES = 4096;
export const STRIPE_MASK = STRIPES - 1;
/** The word after the stripes: how many readers sleep until some stripe changes. */
const SLEEPERS = STRIPES;

/** The shared words: the stripes' sequences and the sleepers' count. Structured-cloneable. */
export function createSeqlockBuffer(): SharedArrayBuffer {
  return new SharedArrayBuffer((STRIPES + 1) * 4);
}

/** The writer's side. Nested begins of one stripe make it odd once. */
export class SeqlockWriter {
  readonly #sequences: Int32Array;
  /** Writer-local: how many begins of each stripe are open. */
  readonly #depths = new Uint32Array(STRIPES);
  /** Stripes begun by `enter`, ended together by `leave`. */
  #entered: number[] = [];

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
    this.#depths[stripe] = depth;
    if (depth !== 0) return;
    const sequences = this.#sequences;
    Atomics.add(sequences, stripe, 1);
    // A reader counts itself before it sleeps and sleeps only while the sequence is still what it saw (odd), so
    // one this load misses sees the new sequence and does not sleep.
    if (Atomics.load(sequences, SLEEPERS) > 0) Atomics.notify(sequences, stripe);
  }

  /** Begins a stripe until the next `leave`: for entries moved or removed in passing. */
  enter(stripe: number): void {
    this.begin(stripe);
    this.#entered.push(stripe);
  }

  leave(): void {
    const entered = this.#entered;
    for (let i = 0; i < entered.length; i++) this.end(entered[i] ?? 0);
    entered.length = 0;
  }

  beginAll(): void {
    for (let stripe = 0; stripe < STRIPES; stripe++) this.begin(stripe);
  }

  endAll(): void {
    for (let stripe = 0; stripe < STRIPES; stripe++) this.end(stripe);
  }
}

/**
 * A reader's wait for the writer to end an update of `stripe`, whose sequence it saw `seen` (odd): sleeps until
 * the sequence changes or `timeoutMs` passes.
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
