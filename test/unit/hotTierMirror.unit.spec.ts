import { describe, expect, it } from 'vitest';
import type { ChannelRecord, ReadStateRecord } from '../../src/projection/records.ts';
import { HotChanges } from '../../src/store/hotChanges.ts';
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
/** The first unread message of a pair with a null pointer in `channel(n)` (ids 1…n), in its epoch. */
const firstUnread = { epoch: 0, id: '1' };

/** A write's changes to the hot tier, as the store records them (small ids: the high word is 0). */
function changes(record: (changes: HotChanges) => void): HotChanges {
  const recorded = new HotChanges();
  record(recorded);
  return recorded;
}
/** Channel `id` with `size` live messages, the greatest of id `size`, none of them @everyone. */
const channelOf = (id: number, size: number) => (c: HotChanges) => {
  c.channel(0, id, 0, size, size > 0, 0, size, 0);
};
/**
 * User `id`'s read state, pointer null (or at `pointer`), no own or mentioning messages above it, its first
 * unread message the id after the pointer (the channels' ids are 1, 2, …).
 */
const readStateOf = (id: number, pointer?: number) => (c: HotChanges) => {
  c.readState(
    0,
    id,
    pointer !== undefined,
    0,
    pointer ?? 0,
    0,
    0,
    false,
    0,
    0,
    0,
    true,
    0,
    (pointer ?? 0) + 1,
  );
};

function setup() {
  const hot = createHotTier({ bytesBudget: 2 ** 16 });
  return { hot, mirror: createHotTierMirror(hot) };
}

describe('the hot tier mirror', () => {
  it('updates what a batch wrote in the entries it holds, so reads see it, and adds none', () => {
    const { hot, mirror } = setup();
    // User 9's pair in channel 5 was looked up (filled); user 8's was not.
    mirror.fill(0, mirror.version(0), '9', '5', { readState, firstUnread, channel: channel(1) });
    expect(hot.readView('9', '5')).toMatchObject({ unread_count: 1, last_message_id: '1' });
    expect(mirror.held.readState(0, 9, 0, 5)).toBe(true);
    expect(mirror.held.readState(0, 8, 0, 5)).toBe(false);
    expect(mirror.held.channel(0, 5)).toBe(true);
    mirror.beforeWrite(0);
    mirror.afterWrite(
      0,
      changes((c) => {
        channelOf(5, 3)(c);
        readStateOf(9)(c);
        readStateOf(8)(c);
        // Channel 6 is held by no entry: its record stays out too.
        channelOf(6, 2)(c);
        readStateOf(9)(c);
      }),
    );
    expect(hot.readView('9', '5')).toMatchObject({ unread_count: 3, last_message_id: '3' });
    expect(hot.readView('8', '5')).toBeUndefined();
    expect(hot.readView('9', '6')).toBeUndefined();
    expect(mirror.held.readState(0, 8, 0, 5)).toBe(false);
    expect(mirror.held.readState(0, 9, 0, 6)).toBe(false);
    expect(mirror.held.channel(0, 6)).toBe(false);
  });

  it('fills from a read only if the partition was not written since the read began', () => {
    const { hot, mirror } = setup();
    const before = mirror.version(1);
    // The projector writes newer records while the read is in flight...
    mirror.beforeWrite(1);
    mirror.afterWrite(1, changes(channelOf(5, 4)));
    // ...so the read's older records must not land.
    mirror.fill(1, before, '9', '5', { readState, firstUnread, channel: channel(3) });
    expect(hot.readView('9', '5')).toBeUndefined();

    // A read of another partition is unaffected, and a read that began after the write fills.
    mirror.fill(2, mirror.version(2), '9', '6', { readState, firstUnread, channel: channel(7) });
    expect(hot.readView('9', '6')).toMatchObject({ unread_count: 7 });
    mirror.fill(1, mirror.version(1), '9', '5', { readState, firstUnread, channel: channel(4) });
    expect(hot.readView('9', '5')).toMatchObject({ unread_count: 4 });
  });

  it('fills that a pair has no read state, also in a channel without a record, until a write replaces it', () => {
    const { hot, mirror } = setup();
    mirror.fill(0, mirror.version(0), '9', '5', {
      readState: undefined,
      ownCount: 1,
      firstUnread,
      channel: channel(3),
    });
    expect(hot.readView('9', '5')).toMatchObject({ has_read_state: false, unread_count: 2 });
    // readStateOf reads a channel without a record as one without messages: nothing unread, no last message.
    mirror.fill(0, mirror.version(0), '9', '6', { readState: undefined, ownCount: 0, channel: undefined });
    expect(hot.readView('9', '6')).toEqual({
      user_id: '9',
      channel_id: '6',
      has_read_state: false,
      last_acked_message_id: null,
      last_message_id: null,
      unread_count: 0,
      mention_count: 0,
      first_unread_message_id: null,
    });
    // A batch: user 9 wrote in channel 5 (OWN grew), then acked in channel 6 (a read state, and its channel).
    mirror.beforeWrite(0);
    mirror.afterWrite(
      0,
      changes((c) => {
        channelOf(5, 4)(c);
        c.ownCount(0, 9, 2);
        channelOf(6, 1)(c);
        readStateOf(9, 1)(c);
      }),
    );
    expect(hot.readView('9', '5')).toMatchObject({ has_read_state: false, unread_count: 2 });
    expect(hot.readView('9', '6')).toMatchObject({ has_read_state: true, last_acked_message_id: '1' });
    // A fill read before that write must not put the negative entry back.
    mirror.fill(0, 0, '9', '6', { readState: undefined, ownCount: 0, channel: undefined });
    expect(hot.readView('9', '6')).toMatchObject({ has_read_state: true });
  });

  it('tells readers which write is under way, until it is mirrored or failed', async () => {
    const { hot, mirror } = setup();
    expect(mirror.writing(0)).toBeUndefined();
    mirror.beforeWrite(0);
    const write = mirror.writing(0);
    expect(write).toBeDefined();
    expect(mirror.writing(1)).toBeUndefined();
    let settled = false;
    void write?.then(() => (settled = true));
    await Promise.resolve();
    expect(settled).toBe(false);
    mirror.afterWrite(0, changes(channelOf(5, 3)));
    await write;
    expect(mirror.writing(0)).toBeUndefined();

    // A failed write may have landed: the tier forgets everything, and nobody waits for it any more.
    mirror.fill(0, mirror.version(0), '9', '5', { readState, firstUnread, channel: channel(3) });
    const before = mirror.version(0);
    mirror.beforeWrite(0);
    const failed = mirror.writing(0);
    mirror.writeFailed(0);
    await failed;
    expect(mirror.writing(0)).toBeUndefined();
    expect(hot.readView('9', '5')).toBeUndefined();
    mirror.fill(0, before, '9', '5', { readState, firstUnread, channel: channel(3) });
    expect(hot.readView('9', '5')).toBeUndefined();
  });

  it('forgets everything on a rebalance, including reads that began before it', () => {
    const { hot, mirror } = setup();
    mirror.fill(0, mirror.version(0), '9', '5', { readState, firstUnread, channel: channel(3) });
    const before = mirror.version(0);
    mirror.forgetAll();
    expect(hot.readView('9', '5')).toBeUndefined();
    mirror.fill(0, before, '9', '5', { readState, firstUnread, channel: channel(3) });
    expect(hot.readView('9', '5')).toBeUndefined();
  });
});
