import type { Snowflake } from '../contract/snowflake.ts';
import type { ReadStateView } from '../projection/readStateOf.ts';
import type { Freshness } from './app.ts';

/** What an answer shows of a read state: what travels between instances too. */
export type AnsweredReadState = Pick<
  ReadStateView,
  | 'channel_id'
  | 'last_acked_message_id'
  | 'last_message_id'
  | 'unread_count'
  | 'mention_count'
  | 'first_unread_message_id'
>;

/**
 * The JSON of a lookup answer, written out directly: the one response sent thousands of times a second, for up to
 * 1,000 entries. Measured against fast-json-stringify with its schema and JSON.stringify of the same objects
 * (bench/query/lookupCost.ts measures the whole answer): ~12 µs for 50 entries against ~16 and ~21 µs. Every
 * string in it is a snowflake or a partition number, all digits (validated on the way in, formatted from words,
 * or checked in a peer's answer by clusterReads), so nothing needs escaping.
 *
 * The route sends the string itself, not a Buffer of it: Node writes a string to the socket from a copy on the
 * stack when the socket takes it at once, while a Buffer per answer is an ArrayBuffer outside the heap that the
 * garbage collector tracks and frees by weak callback. bench:query, 50-channel lookups, one HTTP thread: 94 µs
 * of server CPU per request and 5,819 req/s held at p99 ≤ 5 ms, against 203 µs and 1,220 req/s with Buffers.
 * Copying it once into a shared slab and sending a view of that (no Buffer per answer) gained nothing either
 * (docs/performance.md, 2026-12-01): the copy flattens the rope just as Node's measuring it for Content-Length did.
 */
export function lookupResponseJson(
  userId: Snowflake,
  views: readonly AnsweredReadState[],
  freshness: Freshness | undefined,
  nextCursor?: Snowflake | null,
): string {
  let json = `{"user_id":"${userId}","read_states":[`;
  for (let i = 0; i < views.length; i++) {
    const view = views[i] as AnsweredReadState;
    const acked = view.last_acked_message_id;
    const last = view.last_message_id;
    const first = view.first_unread_message_id;
    json +=
      `${i === 0 ? '' : ','}{"channel_id":"${view.channel_id}",` +
      `"last_acked_message_id":${acked === null ? 'null' : `"${acked}"`},` +
      `"last_message_id":${last === null ? 'null' : `"${last}"`},` +
      `"unread_count":${view.unread_count},"mention_count":${view.mention_count},` +
      `"first_unread_message_id":${first === null ? 'null' : `"${first}"`}}`;
  }
  json += ']';
  if (nextCursor !== undefined) json += `,"next_cursor":${nextCursor === null ? 'null' : `"${nextCursor}"`}`;
  if (freshness !== undefined) {
    json += ',"positions":{';
    let first = true;
    for (const partition in freshness.positions) {
      const position = freshness.positions[partition] as { messages: string; acks: string };
      json += `${first ? '' : ','}"${partition}":{"messages":"${position.messages}","acks":"${position.acks}"}`;
      first = false;
    }
    json += `},"stale":${freshness.stale}`;
  }
  return `${json}}`;
}

/**
 * POST /v1/read-states/summary: the channels with unread messages among those asked, and the unread and mention
 * counts added up, where the answer stands (`positions`, `stale`) as for a lookup. Channels asked twice count once.
 */
export function summaryResponseJson(
  userId: Snowflake,
  views: readonly AnsweredReadState[],
  freshness: Freshness | undefined,
): string {
  const counted = new Set<Snowflake>();
  let unreadChannels = 0;
  let unreadCount = 0;
  let mentionCount = 0;
  for (const view of views) {
    if (counted.has(view.channel_id)) continue;
    counted.add(view.channel_id);
    if (view.unread_count > 0) unreadChannels++;
    unreadCount += view.unread_count;
    mentionCount += view.mention_count;
  }
  return JSON.stringify({
    user_id: userId,
    unread_channels: unreadChannels,
    unread_count_total: unreadCount,
    mention_count_total: mentionCount,
    ...(freshness === undefined ? {} : { positions: freshness.positions, stale: freshness.stale }),
  });
}
