import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AckEvent, MessageEvent } from '../../src/contract/events.ts';
import { chatHistory, SMALL_UNIVERSE } from '../support/chatHistory.ts';
import { prefixViews, viewKey } from '../faults/support/prefixViews.ts';
import { createReferenceModel } from '../support/referenceModel.ts';

/** The fault tests' oracle against the reference model: every prefix pair's answer is in the set it gives. */
describe('prefixViews', () => {
  it("holds the reference model's answer after any prefix of each topic, @everyone and membership included", () => {
    fc.assert(
      fc.property(
        chatHistory(SMALL_UNIVERSE, { everyone: true, membership: true }),
        fc.nat(),
        fc.nat(),
        (history, messagesCut, acksCut) => {
          for (const channel of SMALL_UNIVERSE.channels) {
            const messages = history.messages.filter((e): e is MessageEvent => e.channel_id === channel);
            const acks = history.acks.filter((e): e is AckEvent => e.channel_id === channel);
            const m = messages.length === 0 ? 0 : messagesCut % (messages.length + 1);
            const a = acks.length === 0 ? 0 : acksCut % (acks.length + 1);
            const reference = createReferenceModel();
            for (const event of [...messages.slice(0, m), ...acks.slice(0, a)]) reference.apply(event);
            for (const user of SMALL_UNIVERSE.users) {
              const views = prefixViews(user, channel, messages, acks);
              expect(views.has(viewKey(reference.readState(user, channel)))).toBe(true);
            }
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});
