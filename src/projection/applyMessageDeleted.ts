import type { MessageDeleted } from '../contract/events.ts';
import { adjustReadState } from './adjustReadState.ts';
import type { ApplyOutcome } from './applyOutcome.ts';
import { removeLive } from './channelLive.ts';
import { mentionsIndex, ownIndex, removeMember } from './memberIndexes.ts';
import type { TombstoneRecord } from './records.ts';
import type { ProjectionStore } from './store.ts';

const TOMBSTONE: TombstoneRecord = { deleted: true };

/**
 * Leaves a tombstone in every case, so a message_sent arriving later is ignored. A live message leaves the
 * same records it entered: LIVE, its author's OWN and read state, and its mentioned users' MENTIONS and read
 * states (which stay: a mention gives a read state for good).
 */
export function applyMessageDeleted(store: ProjectionStore, event: MessageDeleted): ApplyOutcome {
  const { channel_id: channelId, message_id: messageId } = event;
  const seen = store.getMessage(channelId, messageId);
  if (seen?.deleted === true) return 'already_deleted';
  store.putMessage(channelId, messageId, TOMBSTONE);
  if (seen === undefined || seen.author_id === null) return 'applied';

  removeLive(store, channelId, messageId);
  removeMember(store, ownIndex(channelId, seen.author_id), messageId);
  adjustReadState(store, seen.author_id, channelId, messageId, 'own_above', -1);
  for (const userId of seen.mentioned_user_ids) {
    removeMember(store, mentionsIndex(channelId, userId), messageId);
    adjustReadState(store, userId, channelId, messageId, 'mentions_above', -1);
  }
  return 'applied';
}
