import type { Snowflake } from '../contract/snowflake.ts';
import type { ProjectionStore } from './store.ts';

export type ChannelHead = {
  readonly channel_id: Snowflake;
  /** The greatest live message id, or null when the channel has no live message. */
  readonly last_message_id: Snowflake | null;
  readonly live_message_count: number;
};

/** One record read. A channel never seen is empty. */
export function channelHeadOf(store: ProjectionStore, channelId: Snowflake): ChannelHead {
  const live = store.getChannel(channelId)?.live ?? null;
  return { channel_id: channelId, last_message_id: live?.max ?? null, live_message_count: live?.size ?? 0 };
}
