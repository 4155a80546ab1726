/**
 * The read states the query benchmark holds: each user has a read state in CHANNELS_PER_USER channels, each
 * channel has READ_STATES_PER_CHANNEL members with one, ids are 18-digit decimal strings like real snowflakes.
 * Records are built from a version number, so the writer can keep producing new ones.
 */
import type { ChannelRecord, ReadStateRecord } from '../../src/projection/records.ts';
import {
  CHANNEL_VALUE_WORDS,
  READ_STATE_VALUE_WORDS,
  type FirstUnreadAt,
  type HotTierOptions,
} from '../../src/store/hotTier.ts';
import { HEADER_BYTES, slotBytes } from '../../src/store/offHeapTable.ts';

export const CHANNELS_PER_USER = 64;
export const READ_STATES_PER_CHANNEL = 8;

export type Dataset = { readStates: number; users: number; channels: number };

export function datasetOf(readStates: number): Dataset {
  const users = Math.floor(readStates / CHANNELS_PER_USER);
  return {
    readStates: users * CHANNELS_PER_USER,
    users,
    channels: Math.floor((users * CHANNELS_PER_USER) / READ_STATES_PER_CHANNEL),
  };
}

const id = (prefix: string, n: number) => prefix + String(n).padStart(17, '0');
export const userId = (user: number) => id('1', user);
export const channelId = (channel: number) => id('2', channel);
export const messageId = (n: number) => id('3', n);

const TWO_32 = 2 ** 32;
/** The words (hi, lo) of `prefix`·10^17, the start of each kind's ids. */
const BASE_WORDS = [1n, 2n, 3n].map((prefix) => {
  const value = prefix * 10n ** 17n;
  return { hi: Number(value >> 32n), lo: Number(value & 0xffffffffn) };
});
/**
 * Writes the words (hi, lo) of `userId(n)` (kind 1), `channelId(n)` (2) or the message id `n` (3) at `at`: the
 * form in which the service's engine hands the hot tier its changes (hotChanges.ts), without decimal strings.
 */
export function idWords(kind: 1 | 2 | 3, n: number, out: Uint32Array, at: number): void {
  const base = BASE_WORDS[kind - 1] ?? { hi: 0, lo: 0 };
  const lo = base.lo + n;
  out[at] = base.hi + Math.floor(lo / TWO_32);
  out[at + 1] = lo % TWO_32;
}

/** The k-th channel of `user`: consecutive users share channels, READ_STATES_PER_CHANNEL to a channel. */
export function channelOf(dataset: Dataset, user: number, k: number): number {
  return (user * CHANNELS_PER_USER + k) % dataset.channels;
}

export function channelRecord(version: number): ChannelRecord {
  return {
    epoch: 0,
    live: {
      size: 1_000 + (version % 1_000),
      max: messageId(version),
      tail: [],
      root: null,
      height: 0,
      next_node: 0,
    },
  };
}

/** A read state whose snapshot is of the channel's epoch, so the hot tier answers it without RocksDB. */
export function readStateRecord(version: number): ReadStateRecord {
  return {
    last_acked_message_id: messageId(version),
    own_above: version % 2,
    mentions_above: version % 3,
    live_above: { epoch: 0, live_count: 1_000, count: 10 },
  };
}

/** The first unread message of `readStateRecord(version)`: the one after its pointer, in epoch 0. */
export function firstUnreadOf(version: number): FirstUnreadAt {
  return { epoch: 0, id: messageId(version + 1) };
}

/** Puts every channel and read state of the dataset into `tier`: the state the servers start from. */
export function fill(
  dataset: Dataset,
  tier: {
    putChannel(channelId: string, record: ChannelRecord): void;
    putReadState(
      userId: string,
      channelId: string,
      record: ReadStateRecord,
      firstUnread: FirstUnreadAt,
    ): void;
  },
): void {
  for (let c = 0; c < dataset.channels; c++) tier.putChannel(channelId(c), channelRecord(c));
  for (let u = 0; u < dataset.users; u++) {
    const user = userId(u);
    for (let k = 0; k < CHANNELS_PER_USER; k++) {
      tier.putReadState(
        user,
        channelId(channelOf(dataset, u, k)),
        readStateRecord(u + k),
        firstUnreadOf(u + k),
      );
    }
  }
}

/**
 * A hot tier just big enough to hold the whole dataset: the service sizes it from HOT_TIER_MB instead, but here
 * every read state must be resident (hotTier.ts's read-state and channel layouts).
 */
export function hotTierFor(dataset: Dataset): HotTierOptions {
  // The default 0.8 load, and a slot to spare against rounding.
  const tableBytes = (entries: number, valueWords: number) =>
    (Math.ceil(entries / 0.8) + 1) * slotBytes(valueWords) + HEADER_BYTES;
  const readStateBytes = tableBytes(dataset.readStates, READ_STATE_VALUE_WORDS);
  const bytesBudget = readStateBytes + tableBytes(dataset.channels, CHANNEL_VALUE_WORDS);
  return { bytesBudget, readStateShare: (readStateBytes + 0.5) / bytesBudget };
}

/** Seeded: the same keys in every server. */
export { seededRandom as random } from '../../src/ops/seededRandom.ts';
