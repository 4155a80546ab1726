/**
 * Issue 15, item 6, through the service as users run it: "mark read up to now" (the publisher SDK's ackUpTo) for
 * one user across several channels, then the read states and the summary (POST /v1/read-states/summary) of those
 * channels, against the reference model fed the same acks. The ack's id is the greatest snowflake at the time
 * asked, a pure function of the event, so the answer does not depend on how far the projector had got.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { greatestSnowflakeAt } from '../src/contract/snowflake.ts';
import { createPublisher } from '../src/publisher/createPublisher.ts';
import { acked } from './support/eventBuilders.ts';
import { trackResource } from './support/resources.ts';
import { freePort } from './support/serviceProcess.ts';
import { spawnService } from './support/spawnService.ts';
import { waitFor } from './support/waitFor.ts';
import { createFaultHarness, type FaultHarness } from './faults/support/faultHarness.ts';

const STREAM = { seed: 73, channels: 8, users: 24 };
const EVENTS = 3_000;
/** The time marked read up to: after every id of the demo stream (ids of 2024), before the test's own acks. */
const AT = new Date('2026-12-01T00:00:00.000Z');

type Summary = {
  user_id: string;
  unread_channels: number;
  unread_count_total: number;
  mention_count_total: number;
};

describe('mark read up to now (ackUpTo) through the service', () => {
  let harness: FaultHarness;
  beforeAll(async () => {
    harness = await createFaultHarness({
      name: 'ackUpTo',
      brokers: inject('kafkaBrokers'),
      postgresUrl: inject('postgresUrl'),
      ...STREAM,
      partitions: 2,
    });
  });
  afterAll(async () => {
    await harness.close();
  });

  it('zeroes every channel asked, leaves the others, and the summary says so', async () => {
    await harness.publish(EVENTS);
    const service = await spawnService('ackUpTo', harness.env, await freePort());
    const publisher = createPublisher({
      kafka: { brokers: [...inject('kafkaBrokers')] },
      topics: harness.topics,
    });
    const releasePublisher = trackResource('kafka client', 'ackUpTo publisher');
    await publisher.connect();
    try {
      await service.healthy();
      await harness.caughtUp(60_000);
      await harness.waitReady(service.url);

      // The user with unread messages in the most channels; half of those are marked read, the rest are not.
      const { users, channels } = harness.touched();
      const unreadIn = (user: string) =>
        channels.filter((channel) => harness.model.readState(user, channel).unread_count > 0);
      const user = users.toSorted((a, b) => unreadIn(b).length - unreadIn(a).length)[0] ?? '';
      const unread = unreadIn(user);
      expect(unread.length, 'channels with unread messages for the chosen user').toBeGreaterThanOrEqual(4);
      const marked = unread.slice(0, Math.floor(unread.length / 2));
      const untouched = unread.slice(Math.floor(unread.length / 2));

      await publisher.ackUpTo(user, marked, AT);
      const id = greatestSnowflakeAt(AT.getTime());
      for (const channel of marked) harness.model.apply(acked({ channel, user, id }));
      for (const channel of marked) {
        expect(harness.model.readState(user, channel)).toMatchObject({ unread_count: 0, mention_count: 0 });
      }

      await waitFor(
        async () => (await harness.compareWithModel(service.url)).mismatches.length === 0,
        15_000,
        `the acks of ackUpTo to be applied (log: ${service.logFile})`,
      );
      const answer = await harness.lookup(service.url, user, marked);
      expect(answer.views.map((view) => view.last_acked_message_id)).toEqual(marked.map(() => id));

      const response = await fetch(`${service.url}/v1/read-states/summary`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${harness.env.API_TOKENS}` },
        body: JSON.stringify({ user_id: user, channel_ids: unread }),
      });
      expect(response.status).toBe(200);
      const summary = (await response.json()) as Summary;
      const views = untouched.map((channel) => harness.model.readState(user, channel));
      // Where the answer stands (positions, stale) comes with it, as with a lookup.
      expect(summary).toMatchObject({
        user_id: user,
        unread_channels: untouched.length,
        unread_count_total: views.reduce((sum, view) => sum + view.unread_count, 0),
        mention_count_total: views.reduce((sum, view) => sum + view.mention_count, 0),
      });
    } finally {
      await publisher.disconnect();
      releasePublisher();
      expect(await service.stop(), `exit code; see ${service.logFile}`).toBe(0);
    }
  });
});
