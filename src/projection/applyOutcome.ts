/**
 * What applying one event did. Anything but `applied` left the store as it was: redelivery and duplicates are
 * expected cases, reported for metrics, not errors.
 */
export type ApplyOutcome =
  | 'applied'
  /** message_sent for an id already live in the channel: the first one wins. */
  | 'duplicate_message'
  /** message_sent for an id already deleted: the tombstone wins. */
  | 'deleted_before_sent'
  /** message_deleted for an id already deleted. */
  | 'already_deleted'
  /** message_edited for an id already deleted. */
  | 'edit_of_deleted'
  /** message_edited no later (edited_at) than the edit already applied to the message. */
  | 'stale_edit'
  /** message_acked that leaves the pointer where it was. */
  | 'pointer_unchanged'
  /** member_joined or member_left no later than the pair's membership event applied (a leave wins a tie). */
  | 'stale_membership';
