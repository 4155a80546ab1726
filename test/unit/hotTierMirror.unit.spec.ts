import { describe, expect, it } from 'vitest';
import type { ChannelRecord, ReadStateRecord } from '../../src/projection/records.ts';
import { createHotTier } from '../../src/store/hotTier.ts';
import { createHotTierMirror } from '../../src/store/hotTierMirror.ts';

const channel = (size: number): ChannelRecord => ({
  epoch: 0,
  live: { size, max: String(size), tail: [], root: null, height: 0, next_node: 0 },
});
const readState: ReadStateRecord = {
  last_acked_message_id: null,
  own_above: 0,
  mentions_above: 0,
  live_above: null,
};

function setup() {
  const hot = createHotTier({ bytesBudget: 2 ** 16 });
  return { hot, mirror: createHotTierMirror(hot) };
}

describe('the hot tier mirror', () => {
  it('puts what a batch wrote, so reads see it', () => {
    const { hot, mirror } = setup();
    mirror.beforeWrite(0);
    mirror.afterWrite(0, [
      [
        { kind: 'channel', channelId: '5', record: channel(3) },
        { kind: 'readState', userId: '9', channelId: '5', record: readState },
      ],
    ]);
    expect(hot.readView('9', '5')).toMatchObject({ unread_count: 3, last_message_id: '3' });
  });

  it('fills from a read only if the partition was not written since the read began', () => {
    const { hot, mirror } = setup();
    const before = mirror.version(1);
    // The projector writes newer records while the read is in flight...
    mirror.beforeWrite(1);
    mirror.afterWrite(1, [[{ kind: 'channel', channelId: '5', record: channel(4) }]]);
    // ...so the read's older records must not land.
    mirror.fill(1, before, '9', '5', readState, channel(3));
    expect(hot.readView('9', '5')).toBeUndefined();

    // A read of another partition is unaffected, and a read that began after the write fills.
    mirror.fill(2, mirror.version(2), '9', '6', readState, channel(7));
    expect(hot.readView('9', '6')).toMatchObject({ unread_count: 7 });
    mirror.fill(1, mirror.version(1), '9', '5', readState, channel(4));
    expect(hot.readView('9', '5')).toMatchObject({ unread_count: 4 });
  });

  it('forgets everything on a rebalance, including reads that began before it', () => {
    const { hot, mirror } = setup();
    mirror.fill(0, mirror.version(0), '9', '5', readState, channel(3));
    const before = mirror.version(0);
    mirror.forgetAll();
    expect(hot.readView('9', '5')).toBeUndefined();
    mirror.fill(0, before, '9', '5', readState, channel(3));
    expect(hot.readView('9', '5')).toBeUndefined();
  });
});
