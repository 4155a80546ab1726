/**
 * Issue 12: scale-out on the consumer group. Three instances in one group (own DATA_DIRs and ports), a seeded
 * stream flowing all along; one killed -9, then restarted on its DATA_DIR, one added, one stopped. A client asks
 * random live instances for random (user, channel) pairs throughout: every 200 must be the read state after some
 * prefix of that channel's history (prefixViews.ts), every other answer a 503 with Retry-After. Any instance
 * answers any channel (routing to the owner), so after each step every live instance answers every channel; a
 * lookup with the publisher's `min_positions` answers the model exactly; once the stream ends every instance
 * answers every pair, and lists every user's read states, as the reference model does, and holds no state of
 * partitions owned elsewhere once PARTITION_RETAIN_MS has passed.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Snowflake } from '../../src/contract/snowflake.ts';
import type { ClusterAnswer } from '../../src/engine/clusterAnswer.ts';
import { seededRandom } from '../../src/ops/seededRandom.ts';
import type { WrittenPositions } from '../../src/publisher/createPublisher.ts';
import { waitUntilJoined } from '../support/crashLoop.ts';
import { temporaryRocksDir } from '../support/rocks.ts';
import { freePort } from '../support/serviceProcess.ts';
import { spawnService, type SpawnedService } from '../support/spawnService.ts';
import { waitFor } from '../support/waitFor.ts';
import { createFaultHarness, type FaultHarness } from './support/faultHarness.ts';
import { viewKey, type WireView } from './support/prefixViews.ts';

const PARTITIONS = 6;
const BACKLOG = 4_000;
/** Lookups in flight at once, each to a random live instance. */
const CLIENTS = 4;
/** Every 503 a cluster may answer while partitions move: "not now, ask again". */
const UNAVAILABLE = new Set([
  'partition_not_owned',
  'partition_restoring',
  'owner_unreachable',
  'not_caught_up',
  'shutting_down',
  // An instance starting (added to the clients' list once healthy, before its projector started).
  'not_ready',
]);

interface Instance {
  index: number;
  url: string;
  service: SpawnedService;
  /** When the test stopped asking it (about to kill or stop it): answers sent after may find it gone. */
  leftAt?: number;
}

interface Answer {
  instance: Instance;
  user: Snowflake;
  channel: Snowflake;
  sentAt: number;
  status: number;
  code: string | undefined;
  retryAfter: string | null;
  view: WireView | undefined;
  error?: string;
}

async function lookup(
  url: string,
  user: Snowflake,
  channels: readonly Snowflake[],
  minPositions?: WrittenPositions,
): Promise<{
  status: number;
  code: string | undefined;
  retryAfter: string | null;
  views: WireView[];
  error?: string;
}> {
  try {
    const response = await fetch(`${url}/v1/read-states/query`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        user_id: user,
        channel_ids: channels,
        ...(minPositions === undefined ? {} : { min_positions: minPositions }),
      }),
      signal: AbortSignal.timeout(10_000),
    });
    const body = (await response.json().catch(() => ({}))) as {
      read_states?: WireView[];
      error?: { code?: string };
    };
    return {
      status: response.status,
      code: body.error?.code,
      retryAfter: response.headers.get('retry-after'),
      views: response.status === 200 ? (body.read_states ?? []) : [],
    };
  } catch (error) {
    return { status: 0, code: undefined, retryAfter: null, views: [], error: (error as Error).message };
  }
}

/**
 * Asks again, for up to 30 s, while the answer is a 503 of partitions moving; with `until`, also while it is any
 * 503 but that code. The last answer.
 */
async function untilAnswered<T extends { status: number; code: string | undefined }>(
  ask: () => Promise<T>,
  until?: string,
): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const answer = await ask();
    const moving = answer.status === 503 && answer.code !== until && UNAVAILABLE.has(answer.code ?? '');
    if (!moving || Date.now() > deadline) return answer;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** CLIENTS loops asking random live instances for random pairs until stopped. */
function startClients(h: FaultHarness, live: () => Instance[]) {
  const answers: Answer[] = [];
  let running = true;
  // Seeded, so that a failure can be replayed with the same questions.
  const uint32 = seededRandom(12345);
  const pick = <T>(items: readonly T[]): T => items[uint32() % items.length] as T;
  const loops = Array.from({ length: CLIENTS }, async () => {
    while (running) {
      const { users, channels } = h.touched();
      const instance = pick(live());
      const user = pick(users);
      const channel = pick(channels);
      const sentAt = Date.now();
      const answer = await lookup(instance.url, user, [channel]);
      answers.push({ ...answer, instance, user, channel, sentAt, view: answer.views[0] });
    }
  });
  return {
    answers,
    async stop(): Promise<Answer[]> {
      running = false;
      await Promise.all(loops);
      return answers;
    },
  };
}

/** Every 200 a state the channel passed through; every other answer a 503 that says "retry", with Retry-After. */
function judge(h: FaultHarness, answers: readonly Answer[]) {
  const problems: string[] = [];
  const tally = new Map<string, number>();
  for (const a of answers) {
    const what = `${new Date(a.sentAt).toISOString()} instance ${a.instance.index} user ${a.user} channel ${a.channel}`;
    const key = a.status === 200 ? '200' : `${a.status} ${a.code ?? a.error ?? ''}`;
    tally.set(key, (tally.get(key) ?? 0) + 1);
    if (a.status === 200) {
      if (a.view === undefined || a.view.channel_id !== a.channel)
        problems.push(`${what}: 200 without the channel's read state`);
      else if (!h.acceptable(a.user, a.view))
        problems.push(`${what}: 200 with ${viewKey(a.view)}, which no prefix of the channel's history gives`);
    } else if (a.status === 503 && a.code !== undefined && UNAVAILABLE.has(a.code)) {
      if (a.retryAfter === null) problems.push(`${what}: 503 ${a.code} without Retry-After`);
    } else if (a.status === 0 && a.instance.leftAt !== undefined && a.sentAt >= a.instance.leftAt - 10_000) {
      // Asked just before the test killed or stopped it: no answer is the honest outcome.
    } else problems.push(`${what}: status ${a.status} code ${String(a.code)} ${a.error ?? ''}`);
  }
  return { problems, tally: Object.fromEntries([...tally].sort()) };
}

/** Until every live instance answers every channel (200), one probe user; how long that took. */
async function everyChannelAnswered(
  h: FaultHarness,
  live: readonly Instance[],
  timeoutMs: number,
): Promise<number> {
  const started = Date.now();
  let missing: string[] = [];
  try {
    await waitFor(
      async () => {
        const { users, channels } = h.touched();
        missing = [];
        for (const instance of live) {
          const answer = await lookup(instance.url, users[0] ?? '1', channels);
          if (answer.status !== 200)
            missing.push(`instance ${instance.index}: ${answer.status} ${String(answer.code)}`);
        }
        return missing.length === 0;
      },
      timeoutMs,
      'every live instance to answer every channel',
    );
  } catch (error) {
    throw new Error(`not every channel answered within ${timeoutMs} ms: ${missing.join('; ')}`, {
      cause: error,
    });
  }
  return Date.now() - started;
}

/** Publishes in the background, a batch every 250 ms, until stopped. */
function startFlow(h: FaultHarness) {
  const state = { running: true };
  const loop = (async () => {
    while (state.running) {
      await h.publish(100, { batch: 100 });
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  })();
  return {
    async stop() {
      state.running = false;
      await loop;
    },
  };
}

describe('a cluster of instances in one consumer group', () => {
  let harness: FaultHarness;
  const dirs: { path: string; remove: () => Promise<void> }[] = [];
  beforeAll(async () => {
    harness = await createFaultHarness({
      name: 'cluster',
      brokers: inject('kafkaBrokers'),
      postgresUrl: inject('postgresUrl'),
      seed: 101,
      channels: 24,
      users: 48,
      partitions: PARTITIONS,
    });
    for (let i = 1; i < 4; i++) dirs.push(await temporaryRocksDir());
  });
  afterAll(async () => {
    await harness.close();
    for (const dir of dirs) await dir.remove();
  });

  it('answers exactly or 503 from any instance through a kill -9, a restart, a join and a leave', async () => {
    const h = harness;
    await h.publish(BACKLOG);
    const dataDirs = [h.dataDir, ...dirs.map((dir) => dir.path)];
    const all: Instance[] = [];
    const start = async (index: number) => {
      const port = await freePort();
      const service = await spawnService(
        `cluster-${index}-${all.length}`,
        // Short, so that step 8 sees the state of partitions owned elsewhere deleted.
        { ...h.env, DATA_DIR: dataDirs[index] ?? '', PARTITION_RETAIN_MS: '5000' },
        port,
      );
      await service.healthy();
      const instance = { index, url: service.url, service };
      all.push(instance);
      return instance;
    };
    let live: Instance[] = [];
    const leave = (instance: Instance) => {
      instance.leftAt = Date.now();
      live = live.filter((other) => other !== instance);
    };
    const figures: Record<string, number> = {};
    try {
      live = await Promise.all([0, 1, 2].map(start));
      await Promise.all(live.map((instance) => waitUntilJoined(instance.url)));
      const clients = startClients(h, () => live);
      const flow = startFlow(h);

      // 1. Three instances: once the group holds all three, each answers every channel, its own and the others'.
      await waitFor(
        async () => {
          const maps = await Promise.all(
            live.map(async ({ url }) => (await (await fetch(`${url}/v1/cluster`)).json()) as ClusterAnswer),
          );
          return maps.every((map) => map.members.length === live.length);
        },
        60_000,
        'every instance to see a group of three',
      );
      figures.settle_ms = await everyChannelAnswered(h, live, 60_000);

      // 2. Read your writes: with the positions the publisher got back, any instance answers with those events.
      await flow.stop();
      await h.publish(300, { batch: 300 });
      const positions = h.positions();
      expect(Object.keys(positions).length).toBe(PARTITIONS);
      const { users, channels } = h.touched();
      for (const instance of live) {
        for (const user of users.slice(0, 5)) {
          // As a client does: a 503 while partitions still move (the group may rebalance once more as its
          // members settle) is asked again; an answer is exact.
          const answer = await untilAnswered(() => lookup(instance.url, user, channels, positions));
          expect(answer.status, `instance ${instance.index}: ${String(answer.code)}`).toBe(200);
          channels.forEach((channel, i) => {
            expect(answer.views[i] === undefined ? undefined : viewKey(answer.views[i])).toBe(
              viewKey({ ...h.model.readState(user, channel), channel_id: channel }),
            );
          });
        }
      }
      const far = Object.fromEntries(
        Object.keys(positions).map((partition) => [partition, { messages: '999999999' }]),
      );
      const refused = await untilAnswered(
        () => lookup(live[0]?.url ?? '', users[0] ?? '1', channels, far),
        'not_caught_up',
      );
      expect([refused.status, refused.code, refused.retryAfter !== null]).toEqual([
        503,
        'not_caught_up',
        true,
      ]);
      const flow2 = startFlow(h);

      // 3. One killed -9: after the session timeout its partitions move to the survivors, who replay them.
      const victim = live[2] as Instance;
      leave(victim);
      victim.service.kill('SIGKILL');
      expect(await victim.service.exited).toBeNull();
      figures.kill_to_all_answered_ms = await everyChannelAnswered(h, live, 60_000);

      // 4. It comes back on its DATA_DIR, and 5. a fourth instance joins.
      const restarted = await start(2);
      live.push(restarted);
      await waitUntilJoined(restarted.url);
      figures.restart_to_all_answered_ms = await everyChannelAnswered(h, live, 60_000);
      const added = await start(3);
      live.push(added);
      await waitUntilJoined(added.url);
      figures.join_to_all_answered_ms = await everyChannelAnswered(h, live, 60_000);

      // 6. One leaves cleanly (SIGTERM): it leaves the group at once, its partitions move.
      const leaving = live[1] as Instance;
      leave(leaving);
      expect(await leaving.service.stop()).toBe(0);
      figures.leave_to_all_answered_ms = await everyChannelAnswered(h, live, 60_000);

      // 7. The stream ends: every instance answers every pair, and lists every user's read states, as the model.
      await flow2.stop();
      const answers = await clients.stop();
      await h.caughtUp(60_000);
      await everyChannelAnswered(h, live, 30_000);
      for (const instance of live) {
        const { compared, mismatches } = await waitFor(
          async () => {
            const result = await h.compareWithModel(instance.url);
            return result.mismatches.length === 0 ? result : false;
          },
          30_000,
          `instance ${instance.index} to answer as the model`,
        ).catch(async () => h.compareWithModel(instance.url));
        expect(mismatches, `instance ${instance.index}`).toEqual([]);
        expect(compared).toBeGreaterThan(1_000);
        // A badge over every channel, added up across the instances that own them, as the model adds it up.
        const { users, channels } = h.touched();
        for (const user of users.slice(0, 5)) {
          const views = channels.map((channel) => h.model.readState(user, channel));
          const summary = await untilAnswered(async () => {
            const response = await fetch(`${instance.url}/v1/read-states/summary`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ user_id: user, channel_ids: channels }),
            });
            const body = (await response.json()) as { error?: { code?: string } };
            return { status: response.status, code: body.error?.code, body };
          });
          expect(summary.body).toMatchObject({
            user_id: user,
            unread_channels: views.filter((view) => view.unread_count > 0).length,
            unread_count_total: views.reduce((sum, view) => sum + view.unread_count, 0),
            mention_count_total: views.reduce((sum, view) => sum + view.mention_count, 0),
          });
        }
      }
      // 8. The state of partitions owned elsewhere is deleted after PARTITION_RETAIN_MS.
      for (const instance of live) {
        let odd: unknown[] = [];
        await waitFor(
          async () => {
            const cluster = (await (await fetch(`${instance.url}/v1/cluster`)).json()) as ClusterAnswer;
            odd = cluster.partitions.filter(
              (p) =>
                !(
                  (p.owner === instance.url && p.here === 'serving') ||
                  (p.owner !== instance.url && p.here === 'not_owned' && p.position_here === null)
                ),
            );
            return odd.length === 0;
          },
          30_000,
          `instance ${instance.index} to serve its partitions and hold no other`,
        ).catch((error: unknown) => {
          throw new Error(`${(error as Error).message}: ${JSON.stringify(odd)}`, { cause: error });
        });
      }

      const verdict = judge(h, answers);
      process.stderr.write(
        `cluster: ${answers.length} lookups while ${h.published().valid} events flowed: ${JSON.stringify(verdict.tally)}; ` +
          `${JSON.stringify(figures)}\n`,
      );
      expect.soft(verdict.problems.slice(0, 20), 'wrong or malformed answers').toEqual([]);
      expect(verdict.problems.length).toBe(0);
      expect(verdict.tally['200'] ?? 0).toBeGreaterThan(500);
      for (const instance of live) expect(instance.service.exitCode()).toBeUndefined();
    } finally {
      await Promise.all(all.map((instance) => instance.service.stop()));
    }
  }, 240_000);
});
