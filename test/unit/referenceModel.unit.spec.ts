import { describe, expect, it } from 'vitest';
import { acked, deleted, sent } from '../support/eventBuilders.ts';
import { createReferenceModel } from '../support/referenceModel.ts';

describe('reference model', () => {
  it('lists read states by user, then channel, in numeric order', () => {
    const reference = createReferenceModel();
    for (const event of [
      acked({ channel: '300', user: '10', id: '5' }),
      sent({ channel: '7', id: '5', author: '2', mentions: ['10', '9'] }),
      acked({ channel: '10', user: '10', id: '5' }),
      deleted({ channel: '7', id: '5' }),
    ]) {
      reference.apply(event);
    }
    expect(reference.readStatesOf('10').map((view) => view.channel_id)).toEqual(['7', '10', '300']);
    expect(reference.allReadStates().map((view) => [view.user_id, view.channel_id])).toEqual([
      ['9', '7'],
      ['10', '7'],
      ['10', '10'],
      ['10', '300'],
    ]);
    expect(reference.readStatesOf('2')).toEqual([]);
    expect(reference.readState('9', '7')).toEqual({
      user_id: '9',
      channel_id: '7',
      has_read_state: true,
      last_acked_message_id: null,
      last_message_id: null,
      unread_count: 0,
      mention_count: 0,
      first_unread_message_id: null,
    });
  });
});
