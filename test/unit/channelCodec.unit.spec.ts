import { describe, expect, it } from 'vitest';
import { createDemoStream } from '../../src/ops/demoStream.ts';
import { ChannelState } from '../../src/projection/compact/channelState.ts';
import { CompactProjection, readStateView } from '../../src/projection/compact/compactProjection.ts';
import { ByteWriter, decodeSnapshot, encodeSnapshot } from '../../src/store/channelCodec.ts';

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
      const copy = decodeSnapshot(encodeSnapshot(channel, new ByteWriter()), new ChannelState(4));
      expect(answers(copy, channelId, users)).toEqual(answers(channel, channelId, users));
      expect(copy.epoch).toBe(channel.epoch);
    }
    expect(everyone).toBeGreaterThan(20);
  });

  it('still reads version 2 (before @everyone and membership)', () => {
    const { projection, users, channels } = folded(3_000, false);
    let read = 0;
    for (const channelId of channels) {
      const channel = projection.channel(channelId) as ChannelState;
      if (channel.everyone !== undefined || channel.pendingEveryone.size > 0) continue;
      // Version 3 is version 2 with the @everyone flags (none here) and a trailing count of pending ones (0).
      const bytes = encodeSnapshot(channel, new ByteWriter());
      const version2 = Buffer.concat([Buffer.from([2]), bytes.subarray(1, bytes.length - 4)]);
      const copy = decodeSnapshot(version2, new ChannelState(4));
      expect(answers(copy, channelId, users)).toEqual(answers(channel, channelId, users));
      read++;
    }
    expect(read).toBeGreaterThan(5);
  });

  it('refuses a version it does not know', () => {
    const { projection, channels } = folded(100);
    const bytes = encodeSnapshot(projection.channel(channels[0] ?? '') as ChannelState, new ByteWriter());
    bytes[0] = 4;
    expect(() => decodeSnapshot(bytes, new ChannelState())).toThrow(/version 4; this build reads 1 to 3/);
  });
});
