/**
 * What one write changes in the hot tier, recorded as words: no object, record or decimal string per change.
 * The projector records it as it applies a chunk, and the hot tier applies it once the write is durable
 * (HotTier.applyChanges), a channel at a time: a channel's entry, then its members' entries, which belong to it.
 */
export interface HotChangeVisitor {
  /**
   * The channel's epoch, live count and head (the greatest live id), `hasHead` false when none is live, and its
   * live @everyone messages.
   */
  channel(
    cHi: number,
    cLo: number,
    epoch: number,
    liveCount: number,
    hasHead: boolean,
    hi: number,
    lo: number,
    everyoneCount: number,
  ): void;
  /**
   * A member's read state: its pointer (when it has one), the count above it of its own live messages, its
   * mention count less the channel's live @everyone messages (`mentionsAbove`, so that @everyone messages sent
   * later add to it without touching the member; negative when many are below the pointer), and, when the pointer is at or below the head (`hasSnapshot`), how many live messages lay above it
   * of how many (`liveCount`); its first unread message, when one is (`hasFirstUnread`); all in `epoch`, the
   * channel's.
   */
  readState(
    uHi: number,
    uLo: number,
    hasPointer: boolean,
    pointerHi: number,
    pointerLo: number,
    ownAbove: number,
    mentionsAbove: number,
    hasSnapshot: boolean,
    epoch: number,
    liveCount: number,
    liveAbove: number,
    hasFirstUnread: boolean,
    firstHi: number,
    firstLo: number,
  ): void;
  /** A member without a read state now wrote `ownCount` of the channel's live messages. */
  ownCount(uHi: number, uLo: number, ownCount: number): void;
  /** A member whose answer depends on a membership (left, or a join's floor): the tier must not hold it. */
  forget(uHi: number, uLo: number): void;
}

const CHANNEL = 1;
const READ_STATE = 2;
const OWN_COUNT = 3;
const FORGET = 4;
const CHANNEL_WORDS = 9;
const READ_STATE_WORDS = 15;
const OWN_COUNT_WORDS = 4;
const FORGET_WORDS = 3;

export class HotChanges implements HotChangeVisitor {
  #words = new Uint32Array(1024);
  #length = 0;
  /** Where each channel's entries begin. */
  readonly #channels: number[] = [];

  get channelCount(): number {
    return this.#channels.length;
  }

  channel(
    cHi: number,
    cLo: number,
    epoch: number,
    liveCount: number,
    hasHead: boolean,
    hi: number,
    lo: number,
    everyoneCount: number,
  ): void {
    this.#channels.push(this.#length);
    const w = this.#room(CHANNEL_WORDS);
    const at = this.#length;
    w[at] = CHANNEL;
    w[at + 1] = cHi;
    w[at + 2] = cLo;
    w[at + 3] = epoch;
    w[at + 4] = liveCount;
    w[at + 5] = hasHead ? 1 : 0;
    w[at + 6] = hi;
    w[at + 7] = lo;
    w[at + 8] = everyoneCount;
    this.#length += CHANNEL_WORDS;
  }

  readState(
    uHi: number,
    uLo: number,
    hasPointer: boolean,
    pointerHi: number,
    pointerLo: number,
    ownAbove: number,
    mentionsAbove: number,
    hasSnapshot: boolean,
    epoch: number,
    liveCount: number,
    liveAbove: number,
    hasFirstUnread: boolean,
    firstHi: number,
    firstLo: number,
  ): void {
    const w = this.#room(READ_STATE_WORDS);
    const at = this.#length;
    w[at] = READ_STATE;
    w[at + 1] = uHi;
    w[at + 2] = uLo;
    w[at + 3] = hasPointer ? 1 : 0;
    w[at + 4] = pointerHi;
    w[at + 5] = pointerLo;
    w[at + 6] = ownAbove;
    w[at + 7] = mentionsAbove;
    w[at + 8] = hasSnapshot ? 1 : 0;
    w[at + 9] = epoch;
    w[at + 10] = liveCount;
    w[at + 11] = liveAbove;
    w[at + 12] = hasFirstUnread ? 1 : 0;
    w[at + 13] = firstHi;
    w[at + 14] = firstLo;
    this.#length += READ_STATE_WORDS;
  }

  ownCount(uHi: number, uLo: number, ownCount: number): void {
    const w = this.#room(OWN_COUNT_WORDS);
    const at = this.#length;
    w[at] = OWN_COUNT;
    w[at + 1] = uHi;
    w[at + 2] = uLo;
    w[at + 3] = ownCount;
    this.#length += OWN_COUNT_WORDS;
  }

  forget(uHi: number, uLo: number): void {
    const w = this.#room(FORGET_WORDS);
    const at = this.#length;
    w[at] = FORGET;
    w[at + 1] = uHi;
    w[at + 2] = uLo;
    this.#length += FORGET_WORDS;
  }

  /** Hands channel `index`'s entries (in recorded order) to `visitor`. */
  replayChannel(index: number, visitor: HotChangeVisitor): void {
    const w = this.#words;
    const end = this.#channels[index + 1] ?? this.#length;
    let at = this.#channels[index] ?? end;
    const cHi = w[at + 1] as number;
    const cLo = w[at + 2] as number;
    while (at < end) {
      switch (w[at]) {
        case CHANNEL:
          visitor.channel(
            cHi,
            cLo,
            w[at + 3] as number,
            w[at + 4] as number,
            w[at + 5] === 1,
            w[at + 6] as number,
            w[at + 7] as number,
            w[at + 8] as number,
          );
          at += CHANNEL_WORDS;
          break;
        case READ_STATE:
          visitor.readState(
            w[at + 1] as number,
            w[at + 2] as number,
            w[at + 3] === 1,
            w[at + 4] as number,
            w[at + 5] as number,
            w[at + 6] as number,
            (w[at + 7] as number) | 0,
            w[at + 8] === 1,
            w[at + 9] as number,
            w[at + 10] as number,
            w[at + 11] as number,
            w[at + 12] === 1,
            w[at + 13] as number,
            w[at + 14] as number,
          );
          at += READ_STATE_WORDS;
          break;
        case OWN_COUNT:
          visitor.ownCount(w[at + 1] as number, w[at + 2] as number, w[at + 3] as number);
          at += OWN_COUNT_WORDS;
          break;
        case FORGET:
          visitor.forget(w[at + 1] as number, w[at + 2] as number);
          at += FORGET_WORDS;
          break;
        default:
          throw new Error(`hot-tier change of unknown kind ${w[at]} at word ${at}`);
      }
    }
  }

  #room(words: number): Uint32Array {
    if (this.#length + words > this.#words.length) {
      const grown = new Uint32Array(Math.max(this.#words.length * 2, this.#length + words));
      grown.set(this.#words.subarray(0, this.#length));
      this.#words = grown;
    }
    return this.#words;
  }
}

/**
 * Which entries the hot tier holds: it updates only those (HotTier.applyChanges), so changes to others need not be
 * worked out at all. Nothing adds an entry of a partition between a chunk's changes and their apply (a fill waits
 * for the write under way, and one that began before it is refused), so what is held then was held before.
 */
export interface HeldEntries {
  /** The channel's record. */
  channel(cHi: number, cLo: number): boolean;
  /** User (uHi, uLo)'s entry in channel (cHi, cLo): a read state or its absence. */
  readState(uHi: number, uLo: number, cHi: number, cLo: number): boolean;
}
