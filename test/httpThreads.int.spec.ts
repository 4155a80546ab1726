/**
 * HTTP on several threads on one port (SO_REUSEPORT): real worker threads, sockets and shared buffers, with a
 * projection store standing where the engine stands. Every thread must answer as the main thread does — the same
 * bodies, ownership refusals, auth, errors crossing from the engine with their codes — and /metrics must add up
 * every thread. Each request goes on a new connection, so the kernel spreads them over the threads.
 */
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError } from '../src/api/apiError.ts';
import type { Snowflake } from '../src/contract/snowflake.ts';
import { HTTP_THREAD_CLOSE_TIMEOUT_MS, serveHttp, type HttpServing } from '../src/engine/httpThreads.ts';
import { createPartitionOf } from '../src/contract/partitionOf.ts';
import { createPartitionStates } from '../src/ingest/partitionStates.ts';
import { createLogger } from '../src/logger.ts';
import { createMetrics } from '../src/metrics.ts';
import { RebuildRunning } from '../src/ops/rebuild.ts';
import { applyEvent } from '../src/projection/applyEvent.ts';
import { createMemoryStore } from '../src/projection/memoryStore.ts';
import { readStateOf } from '../src/projection/readStateOf.ts';
import { createHotTier } from '../src/store/hotTier.ts';
import { acked, sent } from './support/eventBuilders.ts';

const TOKEN = 'thread-token-0123456789';
const THREADS = 3;
const PARTITIONS = 4;
const partitionOf = createPartitionOf(PARTITIONS);
/** Channels 10 and 20 are served; the first channel found on another partition is restoring. */
const restoringChannel = (() => {
  for (let id = 30; ; id++) {
    const partition = partitionOf(String(id));
    if (partition !== partitionOf('10') && partition !== partitionOf('20')) return String(id);
  }
})();
/** A user whose lookups the engine refuses as overloaded. */
const OVERLOADING_USER = '666';

const store = createMemoryStore();
for (const event of [
  sent({ channel: '10', id: '100', author: '1', mentions: ['2'] }),
  sent({ channel: '10', id: '101', author: '3' }),
  sent({ channel: '20', id: '200', author: '3', mentions: ['2'] }),
  acked({ channel: '10', user: '1', id: '100' }),
]) {
  applyEvent(store, event);
}
/** The pair the hot tier holds: (1, 10). Everything else is a miss, asked of the "engine". */
const hotTier = createHotTier({ bytesBudget: 1 << 20 });
hotTier.update('10', () => {
  hotTier.putChannel('10', store.getChannel('10') ?? fail('channel 10'));
  hotTier.putReadState('1', '10', store.getReadState('1', '10') ?? fail('read state (1, 10)'), {
    epoch: store.getChannel('10')?.epoch ?? 0,
    id: '101',
  });
});
const partitions = createPartitionStates();
for (const channel of ['10', '20']) {
  partitions.set(partitionOf(channel), 'restoring');
  partitions.set(partitionOf(channel), 'serving');
}
partitions.set(partitionOf(restoringChannel), 'restoring');

let engineLookups = 0;
const metrics = createMetrics({ consumerLag: () => [], hotTier: () => http.hotTierLookups() });
let http: HttpServing;

function fail(what: string): never {
  throw new Error(`missing ${what}`);
}

/** A request on a connection of its own. */
function get(
  path: string,
  options: { token?: string | null; method?: string } = {},
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  const token = options.token === undefined ? TOKEN : options.token;
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port: http.port,
        path,
        method: options.method ?? 'GET',
        agent: false,
        headers: token === null ? {} : { authorization: `Bearer ${token}` },
      },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => {
          resolve({ status: response.statusCode ?? 0, headers: response.headers, body });
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** Requests answered by the main thread alone (its own histogram), for the given status. */
async function servedHere(status: number): Promise<number> {
  const { values } = await metrics.httpRequestSeconds.get();
  return values
    .filter((v) => v.metricName?.endsWith('_count') === true && v.labels.status === String(status))
    .reduce((sum, v) => sum + v.value, 0);
}

const expectedView = (user: Snowflake, channel: Snowflake) => {
  const view = readStateOf(store, user, channel);
  return {
    channel_id: view.channel_id,
    last_acked_message_id: view.last_acked_message_id,
    last_message_id: view.last_message_id,
    unread_count: view.unread_count,
    mention_count: view.mention_count,
    first_unread_message_id: view.first_unread_message_id,
  };
};

beforeAll(async () => {
  http = await serveHttp({
    threads: THREADS,
    host: '127.0.0.1',
    port: 0,
    logLevel: 'silent',
    apiTokens: [TOKEN],
    authDisabled: false,
    shared: { hotTier: hotTier.shared, partitions: partitions.shared },
    self: '',
    control: {
      lookup(userId, channelIds) {
        engineLookups++;
        if (userId === OVERLOADING_USER) {
          return Promise.reject(
            new ApiError('overloaded', 'too many lookups waiting', { retryAfterSeconds: 3 }),
          );
        }
        return Promise.resolve(channelIds.map((channel) => readStateOf(store, userId, channel)));
      },
      listChannels: () => Promise.resolve([]),
      readiness: () => ({ reason: undefined, dependencies: { kafka: 'up', postgres: 'up' } }),
      startRebuild: () => Promise.reject(new RebuildRunning('r-1')),
      rebuildStatus: () => Promise.resolve(null),
      cluster: () => Promise.resolve({}),
    },
    metrics,
    rebuilds: true,
    logger: createLogger('silent'),
    onFatal: (error) => {
      throw error;
    },
  });
  http.started(PARTITIONS);
});

afterAll(async () => {
  await http.close();
});

describe(`HTTP on ${THREADS} threads`, () => {
  it('listens on one port with every thread, answers the same on each, and /metrics adds them all up', async () => {
    expect(http.threads).toBe(THREADS);
    const asked = 60;
    const answers = await Promise.all(
      Array.from({ length: asked }, () => get('/v1/users/1/read-states?channel_ids=10,20')),
    );
    for (const answer of answers) {
      expect(answer.status).toBe(200);
      expect(JSON.parse(answer.body)).toMatchObject({
        user_id: '1',
        read_states: [expectedView('1', '10'), expectedView('1', '20')],
        stale: false,
      });
    }
    // (1, 20) is not in the hot tier: every thread asked the engine through the main thread, once per request.
    expect(engineLookups).toBe(asked);
    const here = await servedHere(200);
    expect(here).toBeLessThan(asked);

    const text = (await get('/metrics', { token: null })).body;
    const count =
      /readstates_http_request_duration_seconds_count\{route="\/v1\/users\/:user_id\/read-states",status="200"\} (\d+)/.exec(
        text,
      );
    expect(Number(count?.[1])).toBe(asked);
    const answered = /readstates_hot_tier_lookups_total\{result="answered"\} (\d+)/.exec(text);
    const declined = /readstates_hot_tier_lookups_total\{result="declined"\} (\d+)/.exec(text);
    expect([Number(answered?.[1]), Number(declined?.[1])]).toEqual([asked, asked]);
  });

  it('refuses, on every thread, a channel of a partition this instance is restoring: 503 with Retry-After', async () => {
    const before = await servedHere(503);
    const answers = await Promise.all(
      Array.from({ length: 30 }, () => get(`/v1/users/1/read-states?channel_ids=10,${restoringChannel}`)),
    );
    for (const answer of answers) {
      expect(answer.status).toBe(503);
      expect(answer.headers['retry-after']).toBe('1');
      expect(JSON.parse(answer.body)).toMatchObject({ error: { code: 'partition_restoring' } });
    }
    expect((await servedHere(503)) - before).toBeLessThan(30);
  });

  it("gives the engine's refusals and errors on every thread with their codes and Retry-After", async () => {
    const overloaded = await Promise.all(
      Array.from({ length: 20 }, () => get(`/v1/users/${OVERLOADING_USER}/read-states?channel_ids=20`)),
    );
    for (const answer of overloaded) {
      expect(answer.status).toBe(503);
      expect(answer.headers['retry-after']).toBe('3');
      expect(JSON.parse(answer.body)).toMatchObject({ error: { code: 'overloaded' } });
    }
    const rebuilds = await Promise.all(
      Array.from({ length: 20 }, () => get('/admin/rebuilds', { method: 'POST' })),
    );
    for (const answer of rebuilds) {
      expect(answer.status).toBe(409);
      expect(JSON.parse(answer.body)).toMatchObject({ error: { code: 'conflict' } });
    }
  });

  it('asks for a token on every thread, and answers readiness from the main thread', async () => {
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => get('/v1/users/1/read-states?channel_ids=10', { token: null })),
    );
    for (const answer of answers) expect(answer.status).toBe(401);
    const ready = await Promise.all(Array.from({ length: 20 }, () => get('/readyz', { token: null })));
    for (const answer of ready) {
      expect(JSON.parse(answer.body)).toEqual({
        status: 'ready',
        dependencies: { kafka: 'up', postgres: 'up' },
      });
    }
  });
});

describe('closing', () => {
  it('stops every thread, in time, even with keep-alive connections open', async () => {
    const serving = await serveHttp({
      threads: THREADS,
      host: '127.0.0.1',
      port: 0,
      logLevel: 'silent',
      apiTokens: undefined,
      authDisabled: true,
      shared: { hotTier: hotTier.shared, partitions: partitions.shared },
      self: '',
      control: {
        lookup: () => Promise.resolve([]),
        listChannels: () => Promise.resolve([]),
        readiness: () => ({ reason: undefined, dependencies: undefined }),
        startRebuild: () => Promise.reject(new Error('no rebuilds here')),
        rebuildStatus: () => Promise.resolve(null),
        cluster: () => Promise.resolve({}),
      },
      rebuilds: false,
      logger: createLogger('silent'),
      onFatal: (error) => {
        throw error;
      },
    });
    const { Agent } = await import('node:http');
    const agent = new Agent({ keepAlive: true, maxSockets: 12 });
    try {
      await Promise.all(
        Array.from(
          { length: 12 },
          () =>
            new Promise<void>((resolve, reject) => {
              httpRequest({ host: '127.0.0.1', port: serving.port, path: '/healthz', agent }, (response) => {
                response.resume();
                response.on('end', resolve);
              })
                .on('error', reject)
                .end();
            }),
        ),
      );
      const started = performance.now();
      await serving.close();
      expect(performance.now() - started).toBeLessThan(HTTP_THREAD_CLOSE_TIMEOUT_MS);
      await expect(
        new Promise((resolve, reject) => {
          httpRequest({ host: '127.0.0.1', port: serving.port, path: '/healthz', agent: false }, resolve)
            .on('error', reject)
            .end();
        }),
      ).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    } finally {
      agent.destroy();
    }
  });
});
