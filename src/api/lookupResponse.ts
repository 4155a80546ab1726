import type { Snowflake } from '../contract/snowflake.ts';
import type { ReadStateView } from '../projection/readStateOf.ts';
import type { Freshness } from './app.ts';
import { JsonBytes } from './jsonBytes.ts';

/** What an answer shows of a read state: what travels between instances too. */
export type AnsweredReadState = Pick<
  ReadStateView,
  'channel_id' | 'last_acked_message_id' | 'last_message_id' | 'unread_count' | 'mention_count'
>;

/**
 * The JSON of a lookup answer, written out directly: the one response sent thousands of times a second, for up to
 * 1,000 entries. Measured against fast-json-stringify with its schema and JSON.stringify of the same objects
 * (bench/query/lookupCost.ts measures the whole answer): ~12 µs for 50 entries against ~16 and ~21 µs.
 *
 * Written as bytes into a shared slab (jsonBytes.ts) and sent as a view of it. Sent as a string, it cost Node a
 * measurement for Content-Length and a conversion to UTF-8 per answer; as a Buffer of its own, an ArrayBuffer
 * per answer for the garbage collector to track (bench:query, 50-channel lookups, one HTTP thread: 203 µs of
 * server CPU per request, against 94 µs as a string).
 */
const json = new JsonBytes();

export function lookupResponseJson(
  userId: Snowflake,
  views: readonly AnsweredReadState[],
  freshness: Freshness | undefined,
  nextCursor?: Snowflake | null,
): Buffer {
  json.begin().raw('{"user_id":').string(userId).raw(',"read_states":[');
  for (let i = 0; i < views.length; i++) {
    const view = views[i] as AnsweredReadState;
    json
      .raw(i === 0 ? '{"channel_id":' : ',{"channel_id":')
      .string(view.channel_id)
      .raw(',"last_acked_message_id":')
      .stringOrNull(view.last_acked_message_id)
      .raw(',"last_message_id":')
      .stringOrNull(view.last_message_id)
      .raw(',"unread_count":')
      .number(view.unread_count)
      .raw(',"mention_count":')
      .number(view.mention_count)
      .raw('}');
  }
  json.raw(']');
  if (nextCursor !== undefined) json.raw(',"next_cursor":').stringOrNull(nextCursor);
  if (freshness !== undefined) {
    json.raw(',"positions":{');
    let first = true;
    for (const partition in freshness.positions) {
      const position = freshness.positions[partition] as { messages: string; acks: string };
      json
        .raw(first ? '' : ',')
        .string(partition)
        .raw(':{"messages":')
        .string(position.messages)
        .raw(',"acks":')
        .string(position.acks)
        .raw('}');
      first = false;
    }
    json.raw(`},"stale":${freshness.stale}`);
  }
  return json.raw('}').end();
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
