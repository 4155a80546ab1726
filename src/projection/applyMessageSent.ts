import type { MessageSent } from '../contract/events.ts';
import { adjustReadState } from './adjustReadState.ts';
import { addMention } from './addMention.ts';
import type { ApplyOutcome } from './applyOutcome.ts';
import { addLive } from './channelLive.ts';
import { addMember, ownIndex } from './memberIndexes.ts';
import type { ProjectionStore } from './store.ts';

/**
 * A new live message touches the channel, the message, the author's OWN index and read state, and each
 * mentioned user's MENTIONS index and read state: never the channel's other members.
 */
export function applyMessageSent(store: ProjectionStore, event: MessageSent): ApplyOutcome {
  const { channel_id: channelId, message_id: messageId, author_id: authorId } = event;
  const seen = store.getMessage(channelId, messageId);
  if (seen?.deleted === true) return 'deleted_before_sent';
  if (seen !== undefined && seen.author_id !== null) return 'duplicate_message';

  // An edit that came first decides the mentions.
  const mentioned = [...new Set(seen?.mentioned_user_ids ?? event.mention_user_ids)].filter(
    (userId) => userId !== authorId,
  );
  store.putMessage(channelId, messageId, {
    deleted: false,
    author_id: authorId,
    mentioned_user_ids: mentioned,
    ...(seen === undefined ? {} : { edited_at: seen.edited_at }),
  });
  addLive(store, channelId, messageId);

  addMember(store, ownIndex(channelId, authorId), messageId);
  adjustReadState(store, authorId, channelId, messageId, 'own_above', 1);

  // Being mentioned by someone else gives the user a read state.
  for (const userId of mentioned) addMention(store, channelId, userId, messageId);
  return 'applied';
}
