/**
 * The naive alternative to src/store/hotTier.ts: the same records as JS objects in two Maps, answering the same
 * question by the same rules (the cases of liveAbove that need no rank query). Everything it holds lives on the
 * V8 heap, where the garbage collector must trace it.
 */
import { compareSnowflakes, type Snowflake } from '../../src/contract/snowflake.ts';
import type { ReadStateView } from '../../src/projection/readStateOf.ts';
import type { ChannelRecord, ReadStateRecord } from '../../src/projection/records.ts';
import type { HotTierReader, HotTierStats } from '../../src/store/hotTier.ts';

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

  #lookup(userId: Snowflake, channelId: Snowflake): ReadStateView | undefined {
    const record = this.#readStates.get(`${userId}:${channelId}`);
    const channel = this.#channels.get(channelId);
    if (record === undefined || channel === undefined) return undefined;
    const head = channel.live?.max ?? null;
    const pointer = record.last_acked_message_id;
    const snapshot = record.live_above;
    let above: number;
    if (channel.live === null) above = 0;
    else if (pointer === null) above = channel.live.size;
    else if (compareSnowflakes(pointer, channel.live.max) >= 0) above = 0;
    else if (snapshot !== null && snapshot.epoch === channel.epoch) {
      above = channel.live.size - (snapshot.live_count - snapshot.count);
    } else return undefined;
    return {
      user_id: userId,
      channel_id: channelId,
      has_read_state: true,
      last_acked_message_id: pointer,
      last_message_id: head,
      unread_count: above - record.own_above,
      mention_count: record.mentions_above,
    };
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
    };
  }
}
