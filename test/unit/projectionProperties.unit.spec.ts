import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ChatEvent } from '../../src/contract/events.ts';
import { applyEvent } from '../../src/projection/applyEvent.ts';
import { channelHeadOf } from '../../src/projection/channelHeadOf.ts';
import { createMemoryStore, type MemoryStore } from '../../src/projection/memoryStore.ts';
import { readStateOf, type ReadStateView } from '../../src/projection/readStateOf.ts';
import { chatHistory, interleave, SMALL_UNIVERSE, topicPicks } from '../support/chatHistory.ts';
import { createReferenceModel, type ReferenceModel } from '../support/referenceModel.ts';
import { createRerunningStore } from '../support/rerunningStore.ts';

const { channels, users } = SMALL_UNIVERSE;
/** Small fanouts, so that a channel of a few dozen messages already splits and merges nodes. */
const fanout = fc.constantFrom(4, 5, 8);

/** Everything the projection answers about the universe, in a fixed order. */
function snapshot(store: MemoryStore) {
  return {
    readStates: channels.flatMap((channel) => users.map((user) => readStateOf(store, user, channel))),
    heads: channels.map((channel) => channelHeadOf(store, channel)),
    withReadState: users.map((user) => store.channelsWithReadState(user)),
  };
}

function referenceSnapshot(reference: ReferenceModel) {
  return {
    readStates: channels.flatMap((channel) => users.map((user) => reference.readState(user, channel))),
    heads: channels.map((channel) => reference.channelHead(channel)),
    withReadState: users.map((user) =>
      reference.readStatesOf(user).map((view: ReadStateView) => view.channel_id),
    ),
  };
}

function project(events: readonly ChatEvent[], nodeFanout: number): MemoryStore {
  const store = createMemoryStore({ fanout: nodeFanout });
  for (const event of events) applyEvent(store, event);
  return store;
}

describe('projection against the reference model', () => {
  it('agrees after every event of any interleaving of the two topics', () => {
    fc.assert(
      fc.property(chatHistory(), topicPicks(), fanout, (history, picks, nodeFanout) => {
        const store = createMemoryStore({ fanout: nodeFanout });
        const reference = createReferenceModel();
        for (const event of interleave(history, picks)) {
          applyEvent(store, event);
          reference.apply(event);
          // After each event, not just at the end: a stale fast path would show here first.
          expect(snapshot(store)).toEqual(referenceSnapshot(reference));
        }
      }),
      { numRuns: 5000 },
    );
  }, 120_000);

  it('agrees on long channels, where every index grows several levels deep', () => {
    const universe = { channels: ['10'], users: ['1', '2', '3'], firstMessageId: 5 };
    const history = chatHistory(universe, { maxMessages: 150, maxAcks: 60 });
    fc.assert(
      fc.property(history, topicPicks(210), (events, picks) => {
        const store = createMemoryStore({ fanout: 4 });
        const reference = createReferenceModel();
        for (const event of interleave(events, picks)) {
          applyEvent(store, event);
          reference.apply(event);
          for (const user of universe.users) {
            expect(readStateOf(store, user, '10')).toEqual(reference.readState(user, '10'));
          }
        }
        expect(channelHeadOf(store, '10')).toEqual(reference.channelHead('10'));
      }),
      { numRuns: 300 },
    );
  }, 120_000);

  it('ends in the same state for every interleaving, and when the whole history is applied again', () => {
    fc.assert(
      fc.property(
        chatHistory(),
        topicPicks(),
        topicPicks(),
        fanout,
        (history, picks, otherPicks, nodeFanout) => {
          const events = interleave(history, picks);
          const once = snapshot(project(events, nodeFanout));
          expect(snapshot(project(interleave(history, otherPicks), nodeFanout))).toEqual(once);
          expect(snapshot(project([...events, ...events], nodeFanout))).toEqual(once);
          expect(snapshot(project([...events, ...interleave(history, otherPicks)], nodeFanout))).toEqual(
            once,
          );
        },
      ),
      { numRuns: 1000 },
    );
  }, 120_000);

  it('gives the same result when events are aborted half-way and run again', () => {
    let aborted = 0;
    fc.assert(
      fc.property(chatHistory(), topicPicks(), fanout, (history, picks, nodeFanout) => {
        const events = interleave(history, picks);
        const store = createMemoryStore({ fanout: nodeFanout });
        const rerunning = createRerunningStore(store);
        for (const event of events) rerunning.run(event);
        aborted += rerunning.aborts();
        expect(snapshot(store)).toEqual(snapshot(project(events, nodeFanout)));
      }),
      { numRuns: 300 },
    );
    expect(aborted).toBeGreaterThan(0);
  }, 60_000);

  it('leaves no index record behind once every message is deleted', () => {
    fc.assert(
      fc.property(chatHistory(), topicPicks(), fanout, (history, picks, nodeFanout) => {
        const events = interleave(history, picks);
        const store = project(events, nodeFanout);
        for (const event of events) {
          if (event.type === 'message_sent') {
            applyEvent(store, { ...event, type: 'message_deleted', deleted_at: event.sent_at });
          }
        }
        expect(store.recordCounts()).toMatchObject({ headers: 0, nodes: 0 });
        for (const head of snapshot(store).heads) expect(head.live_message_count).toBe(0);
      }),
      { numRuns: 300 },
    );
  }, 60_000);
});
