import type { Snowflake } from '../contract/snowflake.ts';
import type { RankIndexHeader } from './rankIndex.ts';

/**
 * The records the projection keeps, one small immutable value per key: what the store serialises. They hold
 * only strings, numbers, booleans, null, arrays and nested plain objects. Index nodes are in rankIndex.ts.
 * docs/semantics.md explains how they add up to exact counts.
 */

/** Key: channel. Never deleted, so that `epoch` never restarts. */
export type ChannelRecord = {
  /**
   * Bumped by every change of the live set that is not an append above the head: a late message below the
   * head, or a deletion. While it stands still, every change was an append above every earlier live id.
   */
  readonly epoch: number;
  /** LIVE(c): the channel's live message ids; null when there are none. Size = live count, max = head. */
  readonly live: RankIndexHeader | null;
};

/** Key: (channel, message id). Whether the id was seen, and whether it still counts. Never deleted. */
export type MessageRecord = LiveMessageRecord | TombstoneRecord | EditBeforeSentRecord;

export type LiveMessageRecord = {
  readonly deleted: false;
  readonly author_id: Snowflake;
  /** The mentioned users other than the author, each once, in the order first listed. */
  readonly mentioned_user_ids: readonly Snowflake[];
  /** When the mentions come from an edit: its edited_at in ms (an edit no later than it is ignored). */
  readonly edited_at?: number;
};

/** An id edited before its message_sent arrived: the mentions it will have (each once), and when. */
export type EditBeforeSentRecord = {
  readonly deleted: false;
  readonly author_id: null;
  readonly mentioned_user_ids: readonly Snowflake[];
  readonly edited_at: number;
};

/** A deleted id: a later message_sent with it is ignored. */
export type TombstoneRecord = { readonly deleted: true };

/** Key: (user, channel), so the store can list a user's read states by prefix. Exists iff u has a read state. */
export type ReadStateRecord = {
  readonly last_acked_message_id: Snowflake | null;
  /** Live messages above the pointer (all when it is null) authored by the user: maintained on every change. */
  readonly own_above: number;
  /** Live messages above the pointer, by others, that mention the user: maintained on every change. */
  readonly mentions_above: number;
  /** L(c, > pointer) as of the pointer's last change, or null when that could not serve a fast read. */
  readonly live_above: LiveAboveSnapshot | null;
};

/**
 * Taken when the pointer was at or below the head. While the channel's epoch equals `epoch`, every change since
 * was an append above the pointer, so live messages above it = `count` + (live count now − `live_count`).
 */
export type LiveAboveSnapshot = {
  readonly epoch: number;
  readonly live_count: number;
  readonly count: number;
};

/**
 * Which rank index: LIVE(c) has its header inside the channel record; OWN(c, u) (live ids authored by u) and
 * MENTIONS(c, u) (live ids by others mentioning u) have header records of their own. All have node records.
 */
export type RankIndexId = { readonly kind: 'live'; readonly channel_id: Snowflake } | MemberIndexId;

export type MemberIndexId = {
  readonly kind: 'own' | 'mentions';
  readonly channel_id: Snowflake;
  readonly user_id: Snowflake;
};
