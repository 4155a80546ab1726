import { describe, expect, it } from 'vitest';
import { applyEvent } from '../../src/projection/applyEvent.ts';
import { createMemoryStore } from '../../src/projection/memoryStore.ts';
import { acked, sent } from '../support/eventBuilders.ts';
import { describeProjectionStoreContract } from '../support/projectionStoreContract.ts';

describeProjectionStoreContract('memory store', (fanout) => createMemoryStore({ fanout }));

describe('memory store', () => {
  it('refuses a fanout too small to split, saying what is allowed', () => {
    expect(() => createMemoryStore({ fanout: 3 })).toThrow(
      /fanout must be an integer of at least 4 \(got 3\)/,
    );
    expect(() => createMemoryStore({ fanout: 4.5 })).toThrow(/at least 4/);
  });

  it('lists the channels where a user has a read state in numeric order', () => {
    const store = createMemoryStore();
    applyEvent(store, acked({ channel: '300', user: '1', id: '5' }));
    applyEvent(store, sent({ channel: '7', id: '5', author: '2', mentions: ['1'] }));
    applyEvent(store, acked({ channel: '10', user: '1', id: '5' }));
    applyEvent(store, acked({ channel: '8', user: '2', id: '5' }));
    expect(store.channelsWithReadState('1')).toEqual(['7', '10', '300']);
    expect(store.channelsWithReadState('9')).toEqual([]);
  });

  it('freezes records, so a projection that mutated one it read would fail', () => {
    const store = createMemoryStore();
    store.putMessage('1', '2', { deleted: false, author_id: '3', mentioned_user_ids: ['4'] });
    const record = store.getMessage('1', '2');
    expect(Object.isFrozen(record)).toBe(true);
    expect(record?.deleted === false && Object.isFrozen(record.mentioned_user_ids)).toBe(true);
  });
});
