/**
 * One long channel: `messages` messages by 20 members in increasing ids, 10% mentioning a member, with deletions
 * of messages anywhere in its history (every 25th event), normal acks of the newest message (every 10th) and
 * manual acks far back, "mark unread" at a random earlier message (every 50th): the history where counts need
 * the rank indexes, not the O(1) paths of appends at the head.
 */
import type { DemoEvent } from '../../src/ops/demoStream.ts';
import { seededRandom } from '../../src/ops/seededRandom.ts';

const CHANNEL = '1400000000000000001';
const MEMBERS = Array.from({ length: 20 }, (_, i) => (1_400_000_000_100_000_000n + BigInt(i)).toString());

export function createLongChannelStream(seed: number): { next: () => DemoEvent } {
  const uint32 = seededRandom(seed);
  const below = (n: number) => Math.floor((uint32() / 4294967296) * n);
  const member = () => MEMBERS[below(MEMBERS.length)] ?? '1';
  const sent: string[] = [];
  let n = 0;
  let clock = Date.UTC(2026, 10, 22, 10);
  return {
    next(): DemoEvent {
      n++;
      clock += 10;
      const at = new Date(clock).toISOString();
      const someEarlier = () => sent[below(sent.length)] ?? '1';
      if (sent.length > 100 && n % 25 === 0) {
        return {
          type: 'message_deleted',
          v: 1,
          channel_id: CHANNEL,
          message_id: someEarlier(),
          deleted_at: at,
        };
      }
      const ack = (message_id: string, manual: boolean): DemoEvent => ({
        type: 'message_acked',
        v: 1,
        channel_id: CHANNEL,
        user_id: member(),
        message_id,
        manual,
        acked_at: at,
      });
      // Mark unread far back, or read up to the newest message.
      if (sent.length > 100 && n % 50 === 1) return ack(someEarlier(), true);
      if (sent.length > 0 && n % 10 === 0) return ack(sent.at(-1) ?? '1', false);
      const message_id = (1_400_000_000_200_000_000n + BigInt(n)).toString();
      sent.push(message_id);
      const author_id = member();
      const mention_user_ids = below(10) === 0 ? [member()] : [];
      return {
        type: 'message_sent',
        v: 1,
        channel_id: CHANNEL,
        message_id,
        author_id,
        mention_user_ids,
        sent_at: at,
      };
    },
  };
}
