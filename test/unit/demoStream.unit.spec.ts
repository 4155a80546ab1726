import { describe, expect, it } from 'vitest';
import { createDemoStream, type DemoEvent } from '../../src/ops/demoStream.ts';
import { createReferenceModel } from '../support/referenceModel.ts';

const STREAM = { seed: 11, channels: 8, users: 24 };

/** Every read state the reference model answers after `events`, as JSON, keyed by user and channel. */
function answers(events: readonly DemoEvent[]): Map<string, string> {
  const model = createReferenceModel();
  for (const event of events) model.apply(event);
  return new Map(
    model.allReadStates().map((view) => [`${view.user_id}/${view.channel_id}`, JSON.stringify(view)]),
  );
}

describe('the demo stream', () => {
  it('is the same stream for the same seed', () => {
    const a = createDemoStream(STREAM);
    const b = createDemoStream(STREAM);
    for (let i = 0; i < 1_000; i++) expect(a.next()).toEqual(b.next());
  });

  it("goes on from an earlier stream with `after`: every message id above that stream's", () => {
    const first = createDemoStream({ ...STREAM, seed: 1 });
    const events = 20_000;
    let greatest = 0n;
    for (let i = 0; i < events; i++) {
      const event = first.next();
      if (event.type === 'message_sent')
        greatest = BigInt(event.message_id) > greatest ? BigInt(event.message_id) : greatest;
    }
    const next = createDemoStream({ ...STREAM, seed: 2, after: events });
    for (let i = 0; i < 5_000; i++) {
      const event = next.next();
      if (event.type === 'message_sent') expect(BigInt(event.message_id)).toBeGreaterThan(greatest);
    }
  });

  // The end-to-end suites run this stream; unless some join's floor falls above messages of its channel, they
  // never check that messages made before a join stay uncounted for the user who joined.
  it.each([
    { stream: { seed: 11, channels: 8, users: 24 }, events: 5_000 },
    { stream: { seed: 7, channels: 12, users: 40 }, events: 5_000 }, // projector.e2e.spec.ts
    { stream: { seed: 11, channels: 10, users: 30 }, events: 3_000 }, // crash and rebuild e2e
  ])(
    'has joins whose floor cuts messages: answers change when every join moves to the epoch ($stream)',
    ({ stream, events }) => {
      const demo = createDemoStream(stream);
      const published = Array.from({ length: events }, () => demo.next());
      expect(published.filter((event) => event.type === 'member_joined').length).toBeGreaterThan(10);
      const floorless = published.map((event) =>
        event.type === 'member_joined' ? { ...event, joined_at: '2015-01-01T00:00:00.000Z' } : event,
      );
      const withFloors = answers(published);
      const withoutFloors = answers(floorless);
      const changed = [...withFloors].filter(([pair, view]) => withoutFloors.get(pair) !== view);
      expect(changed.length).toBeGreaterThan(3);
    },
  );
});
