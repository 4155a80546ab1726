import type { MessageEdited } from '../contract/events.ts';
import { adjustReadState } from './adjustReadState.ts';
import { addMention } from './addMention.ts';
import type { ApplyOutcome } from './applyOutcome.ts';
import { mentionsIndex, removeMember } from './memberIndexes.ts';
import type { ProjectionStore } from './store.ts';

/**
 * The message's mentions become the edit's (the author never counts). Of several edits of one message the
 * latest `edited_at` wins, whatever order they come in; an edit of an id not sent yet is kept for its
 * message_sent, and one of a deleted id is ignored. Only users entering or leaving the mention set are touched:
 * their MENTIONS index and read state. A user newly mentioned gets a read state, as by a message_sent; one no
 * longer mentioned keeps theirs (a mention gives a read state for good).
 */
export function applyMessageEdited(store: ProjectionStore, event: MessageEdited): ApplyOutcome {
  const { channel_id: channelId, message_id: messageId } = event;
  const seen = store.getMessage(channelId, messageId);
  if (seen?.deleted === true) return 'edit_of_deleted';
  const editedAt = Date.parse(event.edited_at);
  if (seen?.edited_at !== undefined && editedAt <= seen.edited_at) return 'stale_edit';
  if (seen === undefined || seen.author_id === null) {
    store.putMessage(channelId, messageId, {
      deleted: false,
      author_id: null,
      mentioned_user_ids: [...new Set(event.mention_user_ids)],
      edited_at: editedAt,
    });
    return 'applied';
  }

  const authorId = seen.author_id;
  const mentioned = [...new Set(event.mention_user_ids)].filter((userId) => userId !== authorId);
  const before = new Set(seen.mentioned_user_ids);
  const after = new Set(mentioned);
  store.putMessage(channelId, messageId, { ...seen, mentioned_user_ids: mentioned, edited_at: editedAt });
  for (const userId of before) {
    if (after.has(userId)) continue;
    removeMember(store, mentionsIndex(channelId, userId), messageId);
    adjustReadState(store, userId, channelId, messageId, 'mentions_above', -1);
  }
  for (const userId of mentioned) if (!before.has(userId)) addMention(store, channelId, userId, messageId);
  return 'applied';
}
