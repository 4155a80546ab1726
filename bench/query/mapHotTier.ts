/**
 * The naive alternative to src/store/hotTier.ts: the same records as JS objects in two Maps, answering with the
 * projection's own readStateOf, and declining what would need a rank index (as the hot tier does). Everything it holds lives on the
 * V8 heap, where the garbage collector must trace it.
 */
import type { Snowflake } from '../../src/contract/snowflake.ts';
import { readStateOf, type ReadStateView } from '../../src/projection/readStateOf.ts';
import type { ProjectionStore } from '../../src/projection/store.ts';
import type { ChannelRecord, ReadStateRecord } from '../../src/projection/records.ts';
import type { HotTierReader, HotTierStats } from '../../src/store/hotTier.ts';

/** Thrown by a read of a record a tier does not hold (a rank index): the lookup is declined, as the hot tier's. */
class NotHeld extends Error {}
const notHeld = (): never => {
  throw new NotHeld();
};

/** The two records of the pair being read, for readStateOf; set before each call (one object, no garbage). */
const held: { readState: ReadStateRecord | undefined; channel: ChannelRecord | undefined } = {
  readState: undefined,
  channel: undefined,
};
const heldRecords: ProjectionStore = {
  fanout: 0,
  getReadState: () => held.readState,
  getChannel: () => held.channel,
  getMessage: notHeld,
  getIndexHeader: notHeld,
  getIndexNode: notHeld,
  putChannel: notHeld,
  putMessage: notHeld,
  putReadState: notHeld,
  putIndexHeader: notHeld,
  deleteIndexHeader: notHeld,
  putIndexNode: notHeld,
  deleteIndexNode: notHeld,
};

export class MapHotTier implements HotTierReader {
  readonly #readStates = new Map<string, ReadStateRecord>();
  readonly #channels = new Map<string, ChannelRecord>();
  #answered = 0;
  #declined = 0;

  putReadState(userId: Snowflake, channelId: Snowflake, record: ReadStateRecord): void {
    this.#readStates.set(`${userId}:${channelId}`, record);
  }

  putChannel(channelId: Snowflake, record: ChannelRecord): void {
    this.#channels.set(channelId, record);
  }

  get size(): number {
    return this.#readStates.size;
  }

  readView(userId: Snowflake, channelId: Snowflake): ReadStateView | undefined {
    const view = this.#lookup(userId, channelId);
    if (view === undefined) this.#declined++;
    else this.#answered++;
    return view;
  }

  readViews(userId: Snowflake, channelIds: readonly Snowflake[]): (ReadStateView | undefined)[] {
    return channelIds.map((channelId) => this.readView(userId, channelId));
  }

  #lookup(userId: Snowflake, channelId: Snowflake): ReadStateView | undefined {
    const record = this.#readStates.get(`${userId}:${channelId}`);
    const channel = this.#channels.get(channelId);
    if (record === undefined || channel === undefined) return undefined;
    held.readState = record;
    held.channel = channel;
    try {
      return readStateOf(heldRecords, userId, channelId);
    } catch (error) {
      if (error instanceof NotHeld) return undefined;
      throw error;
    }
  }

  stats(): HotTierStats {
    const reads = this.#answered + this.#declined;
    const empty = {
      capacity: 0,
      maxEntries: 0,
      size: 0,
      bytes: 0,
      hits: 0,
      misses: 0,
      inserts: 0,
      updates: 0,
      deletes: 0,
      evictions: 0,
    };
    return {
      bytes: 0,
      readStates: { ...empty, size: this.#readStates.size },
      channels: { ...empty, size: this.#channels.size },
      answered: this.#answered,
      declined: this.#declined,
      hitRatio: reads === 0 ? 0 : this.#answered / reads,
      sleeps: 0,
    };
  }
}
