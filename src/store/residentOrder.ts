/**
 * What the order needs of an entry: how often chunks used it, and in which age of the order it was last counted
 * (both carried across its evictions by the caller; a new entry has 0 and 0).
 */
export interface Counted {
  uses: number;
  usesAge: number;
}

/** `uses` saturates here: enough to tell a channel of every chunk from one of every few. */
const MAX_USES = 15;
/** Uses counted, per entry held, before every count is halved (lazily, by the age). */
const USES_PER_AGE = 4;

/**
 * The order in which resident channels leave: least recently used first, with admission by frequency (after
 * TinyLFU). A channel that comes in (loaded, or new) waits on probation, and probation leaves first. A chunk's
 * use admits it to the main order only while everything fits, or when it has been used more often than the
 * main order's least recently used, which then goes on probation in its place. Counts halve as the order ages
 * (every few uses per entry held), so a channel used in chunk after chunk gets in over one used often long ago.
 *
 * Against plain LRU this matters when the working set outgrows the budget and comes round in a cycle (a
 * backlog's chunks take the partitions in turn, each touching most of its channels): LRU then evicts exactly the
 * channels the next chunk needs, so every chunk loads all of them back, while here the main order keeps its
 * channels and only the rest come and go (docs/decisions/0003, "2026-12-01").
 */
export class ResidentOrder<T extends Counted> {
  /** Least recently used first (a Set keeps insertion order). */
  readonly #probation = new Set<T>();
  readonly #main = new Set<T>();
  readonly #weights = new Map<T, number>();
  #weight = 0;
  #age = 0;
  #usesThisAge = 0;

  /** The weight of every entry held. */
  get weight(): number {
    return this.#weight;
  }

  get size(): number {
    return this.#weights.size;
  }

  /** A channel that came in: on probation until a use admits it. */
  add(entry: T, weight: number): void {
    if (this.#weights.has(entry)) throw new Error('entry is held already');
    this.#weights.set(entry, weight);
    this.#weight += weight;
    this.#probation.add(entry);
  }

  /** A chunk used the entry; `fits`: everything held is within the budget. */
  use(entry: T, fits: boolean): void {
    if (!this.#weights.has(entry)) return;
    if (++this.#usesThisAge >= USES_PER_AGE * this.#weights.size) {
      this.#age++;
      this.#usesThisAge = 0;
    }
    entry.uses = Math.min(MAX_USES, this.#aged(entry) + 1);
    if (this.#main.delete(entry)) {
      this.#main.add(entry);
      return;
    }
    this.#probation.delete(entry);
    const oldest = first(this.#main);
    if (fits || oldest === undefined || entry.uses > this.#aged(oldest)) {
      if (!fits && oldest !== undefined) {
        this.#main.delete(oldest);
        this.#probation.add(oldest);
      }
      this.#main.add(entry);
      return;
    }
    this.#probation.add(entry);
  }

  /** The entry's uses, halved for every age since they were counted (and counted as of now). */
  #aged(entry: T): number {
    const halvings = this.#age - entry.usesAge;
    entry.usesAge = this.#age;
    entry.uses = halvings >= 4 ? 0 : entry.uses >> halvings;
    return entry.uses;
  }

  /** A read of the entry: the most recently used of its part, no use counted. */
  touch(entry: T): void {
    if (this.#main.delete(entry)) this.#main.add(entry);
    else if (this.#probation.delete(entry)) this.#probation.add(entry);
  }

  /** The entry's weight changed (its channel grew). */
  reweigh(entry: T, weight: number): void {
    const before = this.#weights.get(entry);
    if (before === undefined) return;
    this.#weights.set(entry, weight);
    this.#weight += weight - before;
  }

  /** Forgets the entry; false when it was not held. */
  delete(entry: T): boolean {
    const weight = this.#weights.get(entry);
    if (weight === undefined) return false;
    this.#weights.delete(entry);
    this.#weight -= weight;
    this.#main.delete(entry);
    this.#probation.delete(entry);
    return true;
  }

  /** The entry to evict first, other than `keep`; undefined when there is none. */
  victim(keep: T | undefined): T | undefined {
    for (const entry of this.#probation) if (entry !== keep) return entry;
    for (const entry of this.#main) if (entry !== keep) return entry;
    return undefined;
  }
}

function first<T>(set: ReadonlySet<T>): T | undefined {
  for (const entry of set) return entry;
  return undefined;
}
