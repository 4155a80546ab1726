import type { MessageAcked } from '../contract/events.ts';
import { compareSnowflakes } from '../contract/snowflake.ts';
import type { ApplyOutcome } from './applyOutcome.ts';
import { readStateAt } from './readStateAt.ts';
import type { ProjectionStore } from './store.ts';

/**
 * Moves the pointer: forward only for a normal ack, to exactly the acked id for a manual one ("mark unread").
 * Every ack gives the user a read state. The counts are then recomputed at the new pointer; acking the newest
 * message finds them at the top of each index in O(1).
 */
export function applyMessageAcked(store: ProjectionStore, event: MessageAcked): ApplyOutcome {
  const { channel_id: channelId, user_id: userId, message_id: messageId } = event;
  const record = store.getReadState(userId, channelId);
  const current = record?.last_acked_message_id ?? null;
  const pointer =
    event.manual || current === null || compareSnowflakes(messageId, current) > 0 ? messageId : current;
  if (record !== undefined && pointer === current) return 'pointer_unchanged';
  store.putReadState(userId, channelId, readStateAt(store, userId, channelId, pointer));
  return 'applied';
}
