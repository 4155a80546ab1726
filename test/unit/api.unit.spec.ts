/** The HTTP contract, through app.inject(): shapes, order, limits, validation, errors and auth. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildApp, type App, type ReadStateSource } from '../../src/api/app.ts';
import { createLogger } from '../../src/logger.ts';
import { createMetrics } from '../../src/metrics.ts';
import { RebuildRunning } from '../../src/ops/rebuild.ts';
import { applyEvent } from '../../src/projection/applyEvent.ts';
import { createMemoryStore } from '../../src/projection/memoryStore.ts';
import { readStateOf } from '../../src/projection/readStateOf.ts';
import { acked, sent } from '../support/eventBuilders.ts';

function memorySource(): ReadStateSource {
  const store = createMemoryStore();
  for (const event of [
    sent({ channel: '10', id: '100', author: '1', mentions: ['2'] }),
    sent({ channel: '10', id: '101', author: '3' }),
    sent({ channel: '20', id: '200', author: '3', mentions: ['2'] }),
    acked({ channel: '10', user: '1', id: '100' }),
    acked({ channel: '30', user: '2', id: '5' }),
  ]) {
    applyEvent(store, event);
  }
  return {
    lookup: (user, channels) => Promise.resolve(channels.map((channel) => readStateOf(store, user, channel))),
    listChannels: (user, { limit, after }) =>
      Promise.resolve(
        store
          .channelsWithReadState(user)
          .filter((c) => after === undefined || BigInt(c) > BigInt(after))
          .slice(0, limit),
      ),
  };
}

function appWith(options: { apiTokens?: string[]; ready?: boolean } = {}): App {
  return buildApp({
    logger: createLogger('silent'),
    readStates: memorySource(),
    notReadyReason: () =>
      options.ready === false ? 'catching up: 12 events behind on 1 partition(s)' : undefined,
    metrics: createMetrics({
      consumerLag: () => [{ topic: 'chat.messages', partition: 0, lag: 12 }],
      hotTier: () => ({ answered: 3, declined: 1 }),
    }),
    ...(options.apiTokens === undefined ? {} : { apiTokens: options.apiTokens }),
  });
}

describe('read-state lookups', () => {
  let app: App;
  beforeEach(() => {
    app = appWith();
  });
  afterEach(async () => {
    await app.close();
  });

  it('answers one entry per channel asked, in the order asked, zeros and nulls for unknown channels', async () => {
    const response = await app.inject({ url: '/v1/users/2/read-states?channel_ids=20,99,10' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({
      user_id: '2',
      read_states: [
        {
          channel_id: '20',
          last_acked_message_id: null,
          last_message_id: '200',
          unread_count: 1,
          mention_count: 1,
        },
        {
          channel_id: '99',
          last_acked_message_id: null,
          last_message_id: null,
          unread_count: 0,
          mention_count: 0,
        },
        {
          channel_id: '10',
          last_acked_message_id: null,
          last_message_id: '101',
          unread_count: 2,
          mention_count: 1,
        },
      ],
    });
  });

  it('answers the same through POST /v1/read-states/query', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/v1/read-states/query',
      payload: { user_id: '1', channel_ids: ['10'] },
    });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({
      user_id: '1',
      read_states: [
        {
          channel_id: '10',
          last_acked_message_id: '100',
          last_message_id: '101',
          unread_count: 1,
          mention_count: 0,
        },
      ],
    });
  });

  it("pages through a user's read states in channel-id order", async () => {
    const first = await app.inject({ url: '/v1/users/2/read-states?limit=2' });
    expect(first.json()).toMatchObject({
      read_states: [{ channel_id: '10' }, { channel_id: '20' }],
      next_cursor: '20',
    });
    const second = await app.inject({ url: '/v1/users/2/read-states?limit=2&cursor=20' });
    expect(second.json()).toMatchObject({ read_states: [{ channel_id: '30' }], next_cursor: null });
  });
});

describe('input limits and errors', () => {
  let app: App;
  beforeEach(() => {
    app = appWith();
  });
  afterEach(async () => {
    await app.close();
  });

  it.each([
    ['/v1/users/01/read-states?channel_ids=1', 'user_id'],
    ['/v1/users/18446744073709551616/read-states?channel_ids=1', 'user_id'],
    ['/v1/users/2/read-states?channel_ids=1,abc', 'channel_ids[1]'],
    ['/v1/users/2/read-states?channel_ids=', 'channel_ids'],
    ['/v1/users/2/read-states?limit=0', 'limit'],
    ['/v1/users/2/read-states?cursor=-1', 'cursor'],
  ])('GET %s is a 400 naming %s', async (url, field) => {
    const response = await app.inject({ url });
    expect(response.statusCode).toBe(400);
    const body = response.json<{ error: { code: string; message: string } }>();
    expect(body.error.code).toBe('invalid_request');
    expect(body.error.message.startsWith(field)).toBe(true);
  });

  it('accepts 1,000 channel ids and refuses 1,001', async () => {
    const ids = (n: number) => Array.from({ length: n }, (_, i) => String(i + 1));
    const ok = await app.inject({
      method: 'POST',
      url: '/v1/read-states/query',
      payload: { user_id: '2', channel_ids: ids(1000) },
    });
    expect(ok.statusCode).toBe(200);
    expect(ok.json<{ read_states: unknown[] }>().read_states).toHaveLength(1000);
    const tooMany = await app.inject({
      method: 'POST',
      url: '/v1/read-states/query',
      payload: { user_id: '2', channel_ids: ids(1001) },
    });
    expect(tooMany.statusCode).toBe(400);
    expect(tooMany.json<{ error: { message: string } }>().error.message).toMatch(
      /^channel_ids: at most 1000/,
    );
  });

  it('refuses a body over 64 KiB with 413', async () => {
    const payload = JSON.stringify({ user_id: '2', channel_ids: ['1'], pad: 'x'.repeat(70_000) });
    const response = await app.inject({
      method: 'POST',
      url: '/v1/read-states/query',
      payload,
      headers: { 'content-type': 'application/json' },
    });
    expect(response.statusCode).toBe(413);
    expect(response.json()).toMatchObject({ error: { code: 'payload_too_large' } });
  });

  it('refuses malformed JSON and JSON numbers for ids with 400', async () => {
    const malformed = await app.inject({
      method: 'POST',
      url: '/v1/read-states/query',
      payload: '{"user_id":',
      headers: { 'content-type': 'application/json' },
    });
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json()).toMatchObject({ error: { code: 'invalid_request' } });
    const numeric = await app.inject({
      method: 'POST',
      url: '/v1/read-states/query',
      payload: { user_id: 2, channel_ids: ['1'] },
    });
    expect(numeric.statusCode).toBe(400);
    expect(numeric.json<{ error: { message: string } }>().error.message).toMatch(/^user_id: .*got a number/);
  });

  it('answers unknown routes with a JSON 404', async () => {
    const response = await app.inject({ url: '/v1/nope' });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toMatchObject({ error: { code: 'not_found' } });
  });
});

describe('health, readiness and metrics', () => {
  it('is live always, ready only once caught up, and exports metrics', async () => {
    const catchingUp = appWith({ ready: false });
    try {
      expect((await catchingUp.inject({ url: '/healthz' })).statusCode).toBe(200);
      const notReady = await catchingUp.inject({ url: '/readyz' });
      expect(notReady.statusCode).toBe(503);
      expect(notReady.json()).toEqual({
        status: 'not_ready',
        reason: 'catching up: 12 events behind on 1 partition(s)',
      });
      await catchingUp.inject({ url: '/v1/users/2/read-states?channel_ids=10' });
      const metrics = await catchingUp.inject({ url: '/metrics' });
      expect(metrics.body).toMatch(/^readstates_consumer_lag\{topic="chat\.messages",partition="0"\} 12$/m);
      expect(metrics.body).toMatch(
        /readstates_http_request_duration_seconds_count\{route="\/v1\/users\/:user_id\/read-states",status="200"\} 1/,
      );
      expect(metrics.body).toMatch(/nodejs_eventloop_lag_max_seconds/);
      expect(metrics.body).toMatch(/nodejs_gc_duration_seconds/);
    } finally {
      await catchingUp.close();
    }
  });
});

describe('bearer tokens', () => {
  let app: App;
  beforeEach(() => {
    app = appWith({ apiTokens: ['alpha-token', 'beta-token'] });
  });
  afterEach(async () => {
    await app.close();
  });

  it.each([
    [undefined, 401],
    ['Bearer wrong', 401],
    ['Basic alpha-token', 401],
    ['Bearer alpha-token', 200],
    ['Bearer beta-token', 200],
  ])('Authorization %s → %i', async (authorization, status) => {
    const response = await app.inject({
      url: '/v1/users/2/read-states?channel_ids=10',
      headers: authorization === undefined ? {} : { authorization },
    });
    expect(response.statusCode).toBe(status);
    if (status === 401) expect(response.json()).toMatchObject({ error: { code: 'unauthorized' } });
  });

  it('keeps health and metrics open', async () => {
    expect((await app.inject({ url: '/healthz' })).statusCode).toBe(200);
    expect((await app.inject({ url: '/metrics' })).statusCode).toBe(200);
  });
});

describe('admin: rebuilds', () => {
  function adminApp(apiTokens?: string[]) {
    let running = false;
    const progress = {
      id: '7',
      mode: 'online' as const,
      status: 'running' as const,
      generation: 'generations/rebuild-7',
      eventsApplied: 10,
      eventsPerSecond: 5,
      lag: 20,
      etaSeconds: 4,
      startedAt: '2026-11-22T00:00:00.000Z',
    };
    return buildApp({
      logger: createLogger('silent'),
      readStates: memorySource(),
      notReadyReason: () => undefined,
      ...(apiTokens === undefined ? {} : { apiTokens }),
      rebuilds: {
        start: () => {
          if (running) return Promise.reject(new RebuildRunning('7'));
          running = true;
          return Promise.resolve({ id: '7' });
        },
        status: () => Promise.resolve(running ? progress : null),
      },
    });
  }

  it('starts one rebuild (202), refuses a second while it runs (409) and shows its progress', async () => {
    const app = adminApp();
    try {
      expect((await app.inject({ url: '/admin/rebuilds/current' })).statusCode).toBe(404);
      const started = await app.inject({ method: 'POST', url: '/admin/rebuilds' });
      expect(started.statusCode).toBe(202);
      expect(started.json()).toEqual({ rebuild: { id: '7', status: 'running' } });
      const again = await app.inject({ method: 'POST', url: '/admin/rebuilds' });
      expect(again.statusCode).toBe(409);
      expect(again.json()).toMatchObject({ error: { code: 'conflict' } });
      const current = await app.inject({ url: '/admin/rebuilds/current' });
      expect(current.json()).toMatchObject({ rebuild: { id: '7', lag: 20, status: 'running' } });
    } finally {
      await app.close();
    }
  });

  it('needs a token when API_TOKENS is set', async () => {
    const app = adminApp(['s3cret']);
    try {
      expect((await app.inject({ method: 'POST', url: '/admin/rebuilds' })).statusCode).toBe(401);
      const started = await app.inject({
        method: 'POST',
        url: '/admin/rebuilds',
        headers: { authorization: 'Bearer s3cret' },
      });
      expect(started.statusCode).toBe(202);
    } finally {
      await app.close();
    }
  });
});
