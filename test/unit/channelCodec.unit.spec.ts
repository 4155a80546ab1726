import { describe, expect, it } from 'vitest';
import { createDemoStream } from '../../src/ops/demoStream.ts';
import { ChannelState, JOINED, LEFT } from '../../src/projection/compact/channelState.ts';
import { CompactProjection, readStateView } from '../../src/projection/compact/compactProjection.ts';
import {
  ByteWriter,
  decodeSnapshot,
  encodeSnapshot,
  snapshotIncludes,
} from '../../src/store/channelCodec.ts';

const AT = { messages: 12_345n, acks: 2n ** 40n };

/**
 * A demo stream folded in memory: channels with @everyone messages, edits of them, pending edits, and joins and
 * leaves unless `membership` is false.
 */
function folded(events: number, membership = true) {
  const stream = createDemoStream({ seed: 5, channels: 40, users: 200, membership });
  const projection = new CompactProjection({ blockSize: 4 });
  const users = new Set<string>();
  const channels = new Set<string>();
  for (let i = 0; i < events; i++) {
    const event = stream.next();
    projection.apply(event);
    channels.add(event.channel_id);
    if (event.type === 'message_sent') users.add(event.author_id);
    if (event.type !== 'message_sent' && 'user_id' in event) users.add(event.user_id);
  }
  return { projection, users: [...users], channels: [...channels] };
}

function answers(channel: ChannelState, channelId: string, users: readonly string[]) {
  return users.map((user) => readStateView(channel, user, channelId));
}

describe('channel snapshots', () => {
  it('read back every answer of a channel, @everyone included', () => {
    const { projection, users, channels } = folded(10_000);
    let everyone = 0;
    for (const channelId of channels) {
      const channel = projection.channel(channelId) as ChannelState;
      everyone += channel.everyone?.liveCount ?? 0;
      const bytes = encodeSnapshot(channel, new ByteWriter(), AT);
      const copy = decodeSnapshot(bytes, new ChannelState(4));
      expect(answers(copy, channelId, users)).toEqual(answers(channel, channelId, users));
      expect(copy.epoch).toBe(channel.epoch);
      expect(snapshotIncludes(bytes)).toEqual(AT);
    }
    expect(everyone).toBeGreaterThan(20);
  });

  it('reads back a channel larger than the decoder keeps scratch room for, and small ones after it', () => {
    const stream = createDemoStream({ seed: 9, channels: 1, users: 50 });
    const big = new CompactProjection({ blockSize: 128 });
    const users = new Set<string>();
    let channelId = '';
    for (let i = 0; i < 120_000; i++) {
      const event = stream.next();
      big.apply(event);
      channelId = event.channel_id;
      if (event.type === 'message_sent') users.add(event.author_id);
    }
    const channel = big.channel(channelId) as ChannelState;
    // 4 words an id: past the 2^18 words a scratch array keeps.
    expect(channel.messages.size).toBeGreaterThan(2 ** 16);
    const copy = decodeSnapshot(encodeSnapshot(channel, new ByteWriter(), AT), new ChannelState());
    expect(answers(copy, channelId, [...users])).toEqual(answers(channel, channelId, [...users]));
    const small = folded(3_000);
    for (const id of small.channels) {
      const original = small.projection.channel(id) as ChannelState;
      const decoded = decodeSnapshot(encodeSnapshot(original, new ByteWriter(), AT), new ChannelState(4));
      expect(answers(decoded, id, small.users)).toEqual(answers(original, id, small.users));
    }
  });

  it('still reads version 3 (before the offsets a snapshot includes), which includes none', () => {
    const { projection, users, channels } = folded(3_000);
    for (const channelId of channels) {
      const channel = projection.channel(channelId) as ChannelState;
      const bytes = encodeSnapshot(channel, new ByteWriter(), AT);
      // Version 4 is version 3 with the two offsets after the version byte.
      const version3 = Buffer.concat([Buffer.from([3]), bytes.subarray(17)]);
      expect(snapshotIncludes(version3)).toBeUndefined();
      const copy = decodeSnapshot(version3, new ChannelState(4));
      expect(answers(copy, channelId, users)).toEqual(answers(channel, channelId, users));
    }
  });

  it('still reads version 2 (before @everyone and membership)', () => {
    const { projection, users, channels } = folded(3_000, false);
    let read = 0;
    for (const channelId of channels) {
      const channel = projection.channel(channelId) as ChannelState;
      if (channel.everyone !== undefined || channel.pendingEveryone.size > 0) continue;
      // Version 3 is version 2 with the @everyone flags (none here) and a trailing count of pending ones (0);
      // version 4 adds two offsets after the version byte.
      const bytes = encodeSnapshot(channel, new ByteWriter(), AT);
      const version2 = Buffer.concat([Buffer.from([2]), bytes.subarray(17, bytes.length - 4)]);
      const copy = decodeSnapshot(version2, new ChannelState(4));
      expect(answers(copy, channelId, users)).toEqual(answers(channel, channelId, users));
      read++;
    }
    expect(read).toBeGreaterThan(5);
  });

  it('refuses a version it does not know', () => {
    const { projection, channels } = folded(100);
    const bytes = encodeSnapshot(projection.channel(channels[0] ?? '') as ChannelState, new ByteWriter(), AT);
    bytes[0] = 5;
    expect(() => decodeSnapshot(bytes, new ChannelState())).toThrow(/version 5; this build reads 1 to 4/);
  });

  it('refuses a mention of a member the channel does not have, in an @everyone message too', () => {
    const projection = new CompactProjection();
    projection.apply({
      type: 'message_sent',
      v: 1,
      channel_id: '5',
      message_id: '100',
      author_id: '1',
      mention_user_ids: ['2'],
      // Its named members are kept only in the index by message (not in `mentioned`, which checks its own).
      mention_everyone: true,
      sent_at: '2026-12-02T00:00:00.000Z',
    });
    const channel = projection.channel('5') as ChannelState;
    const bytes = encodeSnapshot(channel, new ByteWriter(), AT);
    // Header (25 bytes with the member count), 2 members of 17, the message count and one message of 13, the
    // count of mentioning messages, then its id (8) and its list's length (2): the member mentioned.
    expect(bytes.readUInt32LE(90)).toBe(channel.memberOf('2'));
    expect(decodeSnapshot(bytes, new ChannelState()).mentionsOf(0, 100)).toEqual([1]);
    bytes.writeUInt32LE(7, 90);
    expect(() => decodeSnapshot(bytes, new ChannelState())).toThrow(/names member 7 of 2/);
  });

  it('refuses a count of members or messages its bytes cannot hold, before sizing anything by it', () => {
    const { projection, channels } = folded(100);
    const bytes = encodeSnapshot(projection.channel(channels[0] ?? '') as ChannelState, new ByteWriter(), AT);
    // Version, the offsets it includes (16 bytes), the epoch: then the member count.
    const members = bytes.readUInt32LE(21);
    bytes.writeUInt32LE(2 ** 31, 21);
    expect(() => decodeSnapshot(bytes, new ChannelState())).toThrow(
      /lists 2147483648 members, more than its/,
    );
    bytes.writeUInt32LE(members, 21);
    expect(decodeSnapshot(bytes, new ChannelState()).memberCount).toBe(members);
    // The message count follows the members: 17 bytes each, 16 more with a membership event.
    let at = 25;
    for (let member = 0; member < members; member++) {
      const flags = bytes.readUInt8(at + 8);
      at += 17 + ((flags & (JOINED | LEFT)) !== 0 ? 16 : 0);
    }
    bytes.writeUInt32LE(0xffffffff, at);
    expect(() => decodeSnapshot(bytes, new ChannelState())).toThrow(
      /lists 4294967295 messages, more than its/,
    );
  });
});
