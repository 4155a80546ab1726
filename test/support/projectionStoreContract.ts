import { describe, expect, it } from 'vitest';
import type { ChatEvent } from '../../src/contract/events.ts';
import { applyEvent } from '../../src/projection/applyEvent.ts';
import { channelHeadOf } from '../../src/projection/channelHeadOf.ts';
import { readStateOf } from '../../src/projection/readStateOf.ts';
import type { ReadStateRecord } from '../../src/projection/records.ts';
import type { ProjectionStore } from '../../src/projection/store.ts';
import { acked, deleted, sent } from './eventBuilders.ts';
import { createReferenceModel } from './referenceModel.ts';

/**
 * What every ProjectionStore must do, run against each implementation (the memory store here; the RocksDB
 * store and hot tier later). `create` gives an empty store with the given fanout.
 */
export function describeProjectionStoreContract(
  name: string,
  create: (fanout: number) => ProjectionStore,
): void {
  describe(`${name} (projection store contract)`, () => {
    const readState = (pointer: string | null): ReadStateRecord => ({
      last_acked_message_id: pointer,
      own_above: 1,
      mentions_above: 0,
      live_above: { epoch: 3, live_count: 9, count: 2 },
    });

    it('reports its fanout and reads absent records as undefined', () => {
      const store = create(8);
      expect(store.fanout).toBe(8);
      expect(store.getChannel('1')).toBeUndefined();
      expect(store.getMessage('1', '2')).toBeUndefined();
      expect(store.getReadState('1', '2')).toBeUndefined();
      expect(store.getIndexHeader({ kind: 'own', channel_id: '1', user_id: '2' })).toBeUndefined();
      expect(store.getIndexNode({ kind: 'live', channel_id: '1' }, 0)).toBeUndefined();
    });

    it('gives back what was put, the last put winning', () => {
      const store = create(4);
      store.putChannel('1', { epoch: 0, live: null });
      store.putChannel('1', {
        epoch: 2,
        live: {
          size: 1,
          max: '18446744073709551615',
          tail: ['18446744073709551615'],
          root: null,
          height: 0,
          next_node: 0,
        },
      });
      expect(store.getChannel('1')).toEqual({
        epoch: 2,
        live: {
          size: 1,
          max: '18446744073709551615',
          tail: ['18446744073709551615'],
          root: null,
          height: 0,
          next_node: 0,
        },
      });
      store.putMessage('1', '5', { deleted: false, author_id: '7', mentioned_user_ids: ['8', '9'] });
      expect(store.getMessage('1', '5')).toEqual({
        deleted: false,
        author_id: '7',
        mentioned_user_ids: ['8', '9'],
      });
      store.putMessage('1', '5', { deleted: true });
      expect(store.getMessage('1', '5')).toEqual({ deleted: true });
      store.putReadState('1', '2', readState(null));
      store.putReadState('1', '2', readState('0'));
      expect(store.getReadState('1', '2')).toEqual(readState('0'));
    });

    it('keeps keys of one kind apart: (user, channel) is not (channel, user), and ids are not concatenated', () => {
      const store = create(4);
      store.putReadState('1', '2', readState('10'));
      expect(store.getReadState('2', '1')).toBeUndefined();
      store.putMessage('1', '23', { deleted: true });
      expect(store.getMessage('12', '3')).toBeUndefined();
      const own = { kind: 'own', channel_id: '1', user_id: '2' } as const;
      const mentions = { kind: 'mentions', channel_id: '1', user_id: '2' } as const;
      const live = { kind: 'live', channel_id: '1' } as const;
      const header = { size: 1, max: '4', tail: ['4'], root: null, height: 0, next_node: 0 };
      store.putIndexHeader(own, header);
      expect(store.getIndexHeader(mentions)).toBeUndefined();
      expect(store.getIndexHeader({ kind: 'own', channel_id: '2', user_id: '1' })).toBeUndefined();
      store.putIndexNode(own, 0, { kind: 'leaf', keys: ['4'] });
      expect(store.getIndexNode(mentions, 0)).toBeUndefined();
      expect(store.getIndexNode(live, 0)).toBeUndefined();
      expect(store.getIndexNode(own, 0)).toEqual({ kind: 'leaf', keys: ['4'] });
    });

    it('deletes index headers and nodes', () => {
      const store = create(4);
      const own = { kind: 'own', channel_id: '1', user_id: '2' } as const;
      store.putIndexHeader(own, { size: 1, max: '4', tail: ['4'], root: null, height: 0, next_node: 0 });
      store.putIndexNode(own, 3, { kind: 'branch', children: [{ node: 1, count: 2, min: '4' }] });
      store.deleteIndexHeader(own);
      store.deleteIndexNode(own, 3);
      expect(store.getIndexHeader(own)).toBeUndefined();
      expect(store.getIndexNode(own, 3)).toBeUndefined();
    });

    it('answers a pair without a read state from the channel and OWN, until a mention or an ack creates one', () => {
      const store = create(4);
      const reference = createReferenceModel();
      const apply = (event: ChatEvent) => {
        applyEvent(store, event);
        reference.apply(event);
      };
      const answersAsReference = (hasReadState: boolean) => {
        expect(store.getReadState('2', '9') !== undefined).toBe(hasReadState);
        expect(readStateOf(store, '2', '9')).toEqual(reference.readState('2', '9'));
        expect(readStateOf(store, '2', '9').has_read_state).toBe(hasReadState);
      };
      // Before the channel has a record, then with messages of others and of the user's own, then fewer.
      answersAsReference(false);
      apply(sent({ channel: '9', id: '100', author: '1' }));
      apply(sent({ channel: '9', id: '101', author: '2' }));
      apply(sent({ channel: '9', id: '103', author: '2', mentions: ['2'] }));
      answersAsReference(false);
      apply(deleted({ channel: '9', id: '101' }));
      apply(deleted({ channel: '9', id: '100' }));
      answersAsReference(false);
      apply(sent({ channel: '9', id: '104', author: '1', mentions: ['2'] }));
      answersAsReference(true);
      apply(acked({ channel: '8', user: '2', id: '1' }));
      expect(readStateOf(store, '2', '8')).toEqual(reference.readState('2', '8'));
      expect(readStateOf(store, '2', '8').has_read_state).toBe(true);
    });

    it('carries the projection to the same read states as the reference model', () => {
      const store = create(4);
      const reference = createReferenceModel();
      const events = [
        ...Array.from({ length: 40 }, (_, i) =>
          sent({
            channel: '9',
            id: String(100 + i),
            author: String(i % 3),
            mentions: i % 4 === 0 ? ['1'] : [],
          }),
        ),
        deleted({ channel: '9', id: '120' }),
        acked({ channel: '9', user: '1', id: '110' }),
        acked({ channel: '9', user: '2', id: '139' }),
        sent({ channel: '9', id: '105', author: '0' }),
        acked({ channel: '9', user: '2', id: '105', manual: true }),
      ];
      for (const event of events) {
        applyEvent(store, event);
        reference.apply(event);
      }
      for (const user of ['0', '1', '2', '3']) {
        expect(readStateOf(store, user, '9')).toEqual(reference.readState(user, '9'));
      }
      expect(channelHeadOf(store, '9')).toEqual(reference.channelHead('9'));
    });
  });
}
