/**
 * Issue 10, item 5: never a wrong 200 from a replica. Three instances in one consumer group (own DATA_DIRs and
 * ports), as anyone scaling the StatefulSet runs them. A client asks random instances for random (user, channel)
 * pairs while events flow and after: every 200 must be the read state after some prefix of that channel's
 * history (prefixViews.ts, judged once everything is published), every other answer a 503 partition_not_owned or
 * partition_restoring with Retry-After. Once caught up, each channel is answered by exactly one instance, exactly
 * as the reference model. Then one instance is killed -9: after the session timeout the survivors take its
 * partitions over (replaying them into their own RocksDB) and answer for them exactly.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Snowflake } from '../../src/contract/snowflake.ts';
import { seededRandom } from '../../src/ops/seededRandom.ts';
import { waitUntilJoined } from '../support/crashLoop.ts';
import { temporaryRocksDir } from '../support/rocks.ts';
import { freePort } from '../support/serviceProcess.ts';
import { waitFor } from '../support/waitFor.ts';
import { createFaultHarness, type FaultHarness } from './support/faultHarness.ts';
import { viewKey, type WireView } from './support/prefixViews.ts';
import { spawnService, type SpawnedService } from '../support/spawnService.ts';

const PARTITIONS = 6;
const INSTANCES = 3;
const BACKLOG = 4_000;
const LIVE_BATCHES = 20;
const AFTER_KILL = 1_500;
/** Lookups in flight at once, each to a random instance. */
const CLIENTS = 4;
/** Each instance owns two partitions: about a third of what it is asked for is its own. */
const MIN_OK_PER_INSTANCE = 30;

interface Answer {
  instance: number;
  user: Snowflake;
  channel: Snowflake;
  sentAt: number;
  status: number;
  code: string | undefined;
  retryAfter: string | null;
  view: WireView | undefined;
  error?: string;
}

/** One (user, channel) lookup, as a client would; never throws (no HTTP answer at all is status 0). */
async function lookup(
  instance: number,
  url: string,
  user: Snowflake,
  channels: readonly Snowflake[],
): Promise<{ answer: Omit<Answer, 'channel'>; views: WireView[] }> {
  const sentAt = Date.now();
  try {
    const response = await fetch(`${url}/v1/read-states/query`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user_id: user, channel_ids: channels }),
      signal: AbortSignal.timeout(5_000),
    });
    const body = (await response.json().catch(() => ({}))) as {
      read_states?: WireView[];
      error?: { code?: string };
    };
    const views = response.status === 200 ? (body.read_states ?? []) : [];
    return {
      answer: {
        instance,
        user,
        sentAt,
        status: response.status,
        code: body.error?.code,
        retryAfter: response.headers.get('retry-after'),
        view: views[0],
      },
      views,
    };
  } catch (error) {
    return {
      answer: {
        instance,
        user,
        sentAt,
        status: 0,
        code: undefined,
        retryAfter: null,
        view: undefined,
        error: (error as Error).message,
      },
      views: [],
    };
  }
}

/** CLIENTS loops asking random live instances for random pairs until stopped. */
function startClients(
  instances: () => { index: number; url: string }[],
  pairs: () => { users: Snowflake[]; channels: Snowflake[] },
) {
  const answers: Answer[] = [];
  let running = true;
  // A seeded choice, so a failure can be replayed with the same questions.
  const uint32 = seededRandom(12345);
  const pick = <T>(items: readonly T[]): T => items[uint32() % items.length] as T;
  const loops = Array.from({ length: CLIENTS }, async () => {
    while (running) {
      const target = pick(instances());
      const { users, channels } = pairs();
      const user = pick(users);
      const channel = pick(channels);
      const { answer } = await lookup(target.index, target.url, user, [channel]);
      answers.push({ ...answer, channel });
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

interface Verdict {
  perInstance: { ok: number; notOwned: number; restoring: number }[];
  problems: string[];
}

/** Every 200 a state the channel passed through; every other answer a 503 of the two codes, with Retry-After. */
function judge(h: FaultHarness, answers: readonly Answer[]): Verdict {
  const perInstance = Array.from({ length: INSTANCES }, () => ({ ok: 0, notOwned: 0, restoring: 0 }));
  const problems: string[] = [];
  for (const a of answers) {
    const counts = perInstance[a.instance];
    if (counts === undefined) continue;
    const what = `${new Date(a.sentAt).toISOString()} instance ${a.instance} user ${a.user} channel ${a.channel}`;
    if (a.status === 200) {
      counts.ok++;
      if (a.view === undefined || a.view.channel_id !== a.channel)
        problems.push(`${what}: 200 without the channel's read state`);
      else if (!h.acceptable(a.user, a.view))
        problems.push(`${what}: 200 with ${viewKey(a.view)}, which no prefix of the channel's history gives`);
    } else if (a.status === 503 && a.code === 'partition_not_owned') counts.notOwned++;
    else if (a.status === 503 && a.code === 'partition_restoring') counts.restoring++;
    else problems.push(`${what}: status ${a.status} code ${String(a.code)} ${a.error ?? ''}`);
    if (a.status === 503 && a.retryAfter === null) problems.push(`${what}: 503 without Retry-After`);
  }
  return { perInstance, problems };
}

/**
 * Who answers each channel, and whether every answer is the reference model's: each channel must be served
 * by exactly one of `live` and refused (partition_not_owned) by the others; the owner's answers for every user
 * equal the model. Returns the problems (empty when settled) and the owner of each channel.
 */
async function settled(
  h: FaultHarness,
  live: { index: number; url: string }[],
): Promise<{ problems: string[]; owners: Map<Snowflake, number>; compared: number }> {
  const { users, channels } = h.touched();
  const probeUser = users[0] ?? '0';
  const owners = new Map<Snowflake, number>();
  const problems: string[] = [];
  for (const channel of channels) {
    const serving: number[] = [];
    for (const instance of live) {
      const { answer } = await lookup(instance.index, instance.url, probeUser, [channel]);
      if (answer.status === 200) serving.push(instance.index);
      else if (answer.code !== 'partition_not_owned' && answer.code !== 'partition_restoring')
        problems.push(
          `channel ${channel} at instance ${instance.index}: ${answer.status} ${String(answer.code)}`,
        );
    }
    if (serving.length !== 1)
      problems.push(`channel ${channel} is served by instances [${serving.join(', ')}]`);
    else owners.set(channel, serving[0] ?? -1);
  }
  if (problems.length > 0) return { problems, owners, compared: 0 };
  let compared = 0;
  for (const instance of live) {
    const own = channels.filter((channel) => owners.get(channel) === instance.index);
    if (own.length === 0) continue;
    for (const user of users) {
      const { answer, views } = await lookup(instance.index, instance.url, user, own);
      if (answer.status !== 200) {
        problems.push(`user ${user} at instance ${instance.index}: ${answer.status} ${String(answer.code)}`);
        continue;
      }
      own.forEach((channel, i) => {
        const expected = viewKey({ ...h.model.readState(user, channel), channel_id: channel });
        const got = views[i];
        compared++;
        if (got === undefined || viewKey(got) !== expected)
          problems.push(
            `user ${user} channel ${channel} at instance ${instance.index}: ${got === undefined ? 'nothing' : viewKey(got)}, model ${expected}`,
          );
      });
    }
  }
  return { problems, owners, compared };
}

async function waitSettled(h: FaultHarness, live: { index: number; url: string }[], timeoutMs: number) {
  let last: Awaited<ReturnType<typeof settled>> | undefined;
  try {
    return await waitFor(
      async () => {
        last = await settled(h, live);
        return last.problems.length === 0 ? last : false;
      },
      timeoutMs,
      'every channel served by exactly one instance, as the model',
    );
  } catch (error) {
    throw new Error(
      `not settled within ${timeoutMs} ms:\n  ${(last?.problems ?? []).slice(0, 20).join('\n  ')}`,
      { cause: error },
    );
  }
}

describe('three replicas in one consumer group', () => {
  let harness: FaultHarness;
  const dirs: { path: string; remove: () => Promise<void> }[] = [];
  beforeAll(async () => {
    harness = await createFaultHarness({
      name: 'replicas',
      brokers: inject('kafkaBrokers'),
      postgresUrl: inject('postgresUrl'),
      seed: 101,
      channels: 24,
      users: 48,
      partitions: PARTITIONS,
    });
    for (let i = 1; i < INSTANCES; i++) dirs.push(await temporaryRocksDir());
  });
  afterAll(async () => {
    await harness.close();
    for (const dir of dirs) await dir.remove();
  });

  it('answers only for owned, caught-up partitions, exactly; survivors take over a killed one', async () => {
    const h = harness;
    await h.publish(BACKLOG);
    const dataDirs = [h.dataDir, ...dirs.map((dir) => dir.path)];
    const services: SpawnedService[] = [];
    try {
      for (const [index, dataDir] of dataDirs.entries())
        services.push(
          await spawnService(`replicas-${index}`, { ...h.env, DATA_DIR: dataDir }, await freePort()),
        );
      await Promise.all(services.map((service) => service.healthy()));
      await Promise.all(services.map((service) => waitUntilJoined(service.url)));
      const all = services.map((service, index) => ({ index, url: service.url }));

      // 1. While events flow and the group settles, then once caught up.
      const clients = startClients(
        () => all,
        () => ({ users: h.touched().users, channels: h.touched().channels }),
      );
      for (let batch = 0; batch < LIVE_BATCHES; batch++) {
        await h.publish(200);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      await h.caughtUp(60_000);
      const steady = await waitSettled(h, all, 30_000);
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      const before = judge(h, await clients.stop());
      const ownedBy = all.map(({ index }) =>
        [
          ...new Set([...steady.owners].filter(([, owner]) => owner === index).map(([c]) => h.homeOf(c))),
        ].sort(),
      );
      process.stderr.write(
        `replicas: ${clients.answers.length} lookups while ${BACKLOG + LIVE_BATCHES * 200} events flowed; per instance ` +
          `${JSON.stringify(before.perInstance)}; partitions owned ${JSON.stringify(ownedBy)}; ${steady.compared} exact\n`,
      );
      expect.soft(before.problems.slice(0, 20), 'wrong or malformed answers').toEqual([]);
      expect(before.problems.length).toBe(0);
      for (const [index, counts] of before.perInstance.entries()) {
        expect(counts.ok, `200s from instance ${index}`).toBeGreaterThanOrEqual(MIN_OK_PER_INSTANCE);
        expect(counts.notOwned, `partition_not_owned from instance ${index}`).toBeGreaterThan(0);
      }
      for (const owned of ownedBy) expect(owned.length).toBeGreaterThan(0);
      expect(steady.compared).toBeGreaterThan(500);

      // 2. One instance killed -9: its partitions move to the survivors after the session timeout.
      const victim = 2;
      const survivors = all.filter(({ index }) => index !== victim);
      const orphaned = [...steady.owners].filter(([, owner]) => owner === victim).map(([channel]) => channel);
      expect(orphaned.length).toBeGreaterThan(0);
      const afterClients = startClients(
        () => survivors,
        () => ({ users: h.touched().users, channels: h.touched().channels }),
      );
      services[victim]?.kill('SIGKILL');
      const killedAt = Date.now();
      expect(await services[victim]?.exited).toBeNull();
      await h.publish(AFTER_KILL);
      const takenOver = await waitSettled(h, survivors, 60_000);
      const tookMs = Date.now() - killedAt;
      const after = judge(h, await afterClients.stop());
      process.stderr.write(
        `replicas: instance ${victim} killed; survivors serve all ${takenOver.owners.size} channels exactly ` +
          `(${takenOver.compared} compared) ${tookMs} ms later; ${afterClients.answers.length} lookups meanwhile, ` +
          `per instance ${JSON.stringify(after.perInstance.slice(0, INSTANCES - 1))}\n`,
      );
      expect.soft(after.problems.slice(0, 20), 'wrong or malformed answers after the kill').toEqual([]);
      expect(after.problems.length).toBe(0);
      for (const channel of orphaned) expect([0, 1]).toContain(takenOver.owners.get(channel));
      for (const { index } of survivors) expect(after.perInstance[index]?.ok).toBeGreaterThan(0);
      for (const { index } of survivors) expect(services[index]?.exitCode()).toBeUndefined();
      const codes = await Promise.all(services.map((service) => service.stop()));
      expect(codes, 'exit codes: the victim killed (null), the others stopped cleanly').toEqual([0, 0, null]);
    } finally {
      await Promise.all(services.map((service) => service.stop()));
    }
  }, 120_000);
});
