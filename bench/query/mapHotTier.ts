/**
 * The naive alternative to src/store/hotTier.ts: the same records as JS objects in two Maps, answering with the
 * projection's own readStateOf, and declining what would need a rank index (as the hot tier does). Everything it holds lives on the
 * V8 heap, where the garbage collector must trace it.
 */
import type { Snowflake } from '../../src/contract/snowflake.ts';
import { countedReadStateOf, type ReadStateView } from '../../src/projection/readStateOf.ts';
import type { ProjectionStore } from '../../src/projection/store.ts';
import type { ChannelRecord, ReadStateRecord } from '../../src/projection/records.ts';
import type { FirstUnreadAt, HotTierReader, HotTierStats } from '../../src/store/hotTier.ts';

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
  readonly #readStates = new Map<
    string,
    { record: ReadStateRecord; firstUnread: FirstUnreadAt | undefined }
  >();
  readonly #channels = new Map<string, ChannelRecord>();
  #answered = 0;
  #declined = 0;

  putReadState(
    userId: Snowflake,
    channelId: Snowflake,
    record: ReadStateRecord,
    firstUnread?: FirstUnreadAt,
  ): void {
    this.#readStates.set(`${userId}:${channelId}`, { record, firstUnread });
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
    const entry = this.#readStates.get(`${userId}:${channelId}`);
    const channel = this.#channels.get(channelId);
    if (entry === undefined || channel === undefined) return undefined;
    held.readState = entry.record;
    held.channel = channel;
    try {
      const { view } = countedReadStateOf(heldRecords, userId, channelId);
      // As the hot tier: a first unread held for the channel's epoch, or none when nothing is unread.
      if (view.unread_count === 0) return { ...view, first_unread_message_id: null };
      const { firstUnread } = entry;
      if (firstUnread?.id == null || firstUnread.epoch !== channel.epoch) return undefined;
      return { ...view, first_unread_message_id: firstUnread.id };
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
