/**
 * What the order needs of an entry: how often it was used, and in which age of the order that was last counted
 * (both carried across its evictions by the caller; a new entry has 0 and 0).
 */
export interface Counted {
  uses: number;
  usesAge: number;
}

/** `uses` saturates here: enough to tell a channel of every chunk from one of every few. */
const MAX_USES = 7;
/** Uses counted, per entry held, before every count is halved (lazily, by the age). */
const USES_PER_AGE = 4;

/** A place in one of the two lists. */
type Node<T> = { entry: T; weight: number; main: boolean; prev: Node<T>; next: Node<T> };

/** A circular doubly-linked list, least recently used first: O(1) to move, remove and find the oldest. */
class List<T> {
  readonly #head: Node<T>;

  constructor() {
    const head = { weight: 0, main: false } as Node<T>;
    head.prev = head;
    head.next = head;
    this.#head = head;
  }

  /** The least recently used node other than `keep`'s, or undefined. */
  oldest(keep?: Node<T>): Node<T> | undefined {
    let node = this.#head.next;
    if (node === keep) node = node.next;
    return node === this.#head ? undefined : node;
  }

  /** Appends `node` as the most recently used. */
  push(node: Node<T>): void {
    const last = this.#head.prev;
    node.prev = last;
    node.next = this.#head;
    last.next = node;
    this.#head.prev = node;
  }

  static remove<T>(node: Node<T>): void {
    node.prev.next = node.next;
    node.next.prev = node.prev;
  }
}

/**
 * The order in which resident channels leave: least recently used first, with admission by frequency (after
 * TinyLFU). A channel that comes in (loaded, or new) waits on probation, and probation leaves first. A use (a
 * chunk's, or a read's) admits it to the main order while everything fits, or when it has been used more often
 * than the main order's least recently used, which then goes on probation in its place. Counts halve as the
 * order ages (every few uses per entry held), so a channel used again and again gets in over one used often
 * long ago.
 *
 * Against plain LRU this matters when the working set outgrows the budget and comes round in a cycle (a
 * backlog's chunks take the partitions in turn, each touching most of its channels): LRU then evicts exactly the
 * channels the next chunk needs, so every chunk loads all of them back, while here the main order keeps its
 * channels and only the rest come and go (docs/decisions/0003, "2026-12-01").
 */
export class ResidentOrder<T extends Counted> {
  readonly #probation = new List<T>();
  readonly #main = new List<T>();
  readonly #nodes = new Map<T, Node<T>>();
  #weight = 0;
  #age = 0;
  #usesThisAge = 0;

  /** The weight of every entry held. */
  get weight(): number {
    return this.#weight;
  }

  get size(): number {
    return this.#nodes.size;
  }

  /** An entry that came in: on probation until a use admits it. */
  add(entry: T, weight: number): void {
    if (this.#nodes.has(entry)) throw new Error('entry is held already');
    const node = { entry, weight, main: false } as Node<T>;
    this.#nodes.set(entry, node);
    this.#weight += weight;
    this.#probation.push(node);
  }

  /** The entry was used: counted, and the most recently used of its list, or admitted; `fits`: within budget. */
  use(entry: T, fits: boolean): void {
    const node = this.#nodes.get(entry);
    if (node === undefined) return;
    if (++this.#usesThisAge >= USES_PER_AGE * this.#nodes.size) {
      this.#age++;
      this.#usesThisAge = 0;
    }
    entry.uses = Math.min(MAX_USES, this.#aged(entry) + 1);
    List.remove(node);
    if (node.main) {
      this.#main.push(node);
      return;
    }
    const oldest = this.#main.oldest();
    if (fits || oldest === undefined || entry.uses > this.#aged(oldest.entry)) {
      if (!fits && oldest !== undefined) {
        List.remove(oldest);
        oldest.main = false;
        this.#probation.push(oldest);
      }
      node.main = true;
      this.#main.push(node);
      return;
    }
    this.#probation.push(node);
  }

  /** The entry's weight changed (its channel grew). */
  reweigh(entry: T, weight: number): void {
    const node = this.#nodes.get(entry);
    if (node === undefined) return;
    this.#weight += weight - node.weight;
    node.weight = weight;
  }

  /** Forgets the entry; false when it was not held. */
  delete(entry: T): boolean {
    const node = this.#nodes.get(entry);
    if (node === undefined) return false;
    this.#nodes.delete(entry);
    this.#weight -= node.weight;
    List.remove(node);
    return true;
  }

  /** The entry to evict first, other than `keep`; undefined when there is none. */
  victim(keep: T | undefined): T | undefined {
    const kept = keep === undefined ? undefined : this.#nodes.get(keep);
    return (this.#probation.oldest(kept) ?? this.#main.oldest(kept))?.entry;
  }

  /** The entry's uses, halved for every age since they were counted (and counted as of now). */
  #aged(entry: T): number {
    const halvings = this.#age - entry.usesAge;
    entry.usesAge = this.#age;
    entry.uses = halvings >= 3 ? 0 : entry.uses >> halvings;
    return entry.uses;
  }
}
