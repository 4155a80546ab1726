/** The HTTP contract, through app.inject(): shapes, order, limits, validation, errors and auth. */
import { connect, type Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { API_ERRORS, ApiError, type ApiErrorCode } from '../../src/api/apiError.ts';
import { buildApp, type App, type ReadStateSource } from '../../src/api/app.ts';
import { clientErrorHandler } from '../../src/api/clientErrorHandler.ts';
import { httpLimits } from '../../src/api/httpLimits.ts';
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

function appWith(options: { apiTokens?: string[]; ready?: boolean; readStates?: ReadStateSource } = {}): App {
  return buildApp({
    logger: createLogger('silent'),
    readStates: options.readStates ?? memorySource(),
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
          first_unread_message_id: '200',
        },
        {
          channel_id: '99',
          last_acked_message_id: null,
          last_message_id: null,
          unread_count: 0,
          mention_count: 0,
          first_unread_message_id: null,
        },
        {
          channel_id: '10',
          last_acked_message_id: null,
          last_message_id: '101',
          unread_count: 2,
          mention_count: 1,
          first_unread_message_id: '100',
        },
      ],
    });
  });

  it('adds the channels asked up in POST /v1/read-states/summary, each channel once, as the lookup answers them', async () => {
    const asked = ['20', '99', '10', '30', '20'];
    const [summary, lookup] = await Promise.all(
      ['summary', 'query'].map((route) =>
        app.inject({
          method: 'POST',
          url: `/v1/read-states/${route}`,
          payload: { user_id: '2', channel_ids: asked },
        }),
      ),
    );
    expect(summary?.statusCode).toBe(200);
    // 20: 1 unread, 1 mention; 10: 2 unread, 1 mention; 99 and 30 nothing; 20 asked twice counts once.
    expect(summary?.json()).toEqual({
      user_id: '2',
      unread_channels: 2,
      unread_count_total: 3,
      mention_count_total: 2,
    });
    const views = (lookup?.json() as { read_states: { channel_id: string; unread_count: number }[] })
      .read_states;
    const once = new Map(views.map((view) => [view.channel_id, view]));
    expect((summary?.json() as { unread_count_total: number }).unread_count_total).toBe(
      [...once.values()].reduce((sum, view) => sum + view.unread_count, 0),
    );
    const refused = await app.inject({
      method: 'POST',
      url: '/v1/read-states/summary',
      payload: { user_id: '2', channel_ids: [] },
    });
    expect(refused.statusCode).toBe(400);
    expect(refused.json()).toMatchObject({ error: { code: 'invalid_request' } });
    expect(refused.json<{ error: { message: string } }>().error.message).toMatch(/channel_ids/);
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
          first_unread_message_id: '101',
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
      expect(notReady.headers['retry-after']).toBe('1');
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

  it('with AUTH_DISABLED opens /v1 but keeps /admin behind the tokens', async () => {
    const open = buildApp({
      logger: createLogger('silent'),
      readStates: memorySource(),
      notReadyReason: () => undefined,
      apiTokens: ['alpha-token'],
      authDisabled: true,
      rebuilds: { start: () => Promise.resolve({ id: '1' }), status: () => Promise.resolve(null) },
    });
    try {
      expect((await open.inject({ url: '/v1/users/2/read-states?channel_ids=10' })).statusCode).toBe(200);
      expect((await open.inject({ method: 'POST', url: '/admin/rebuilds' })).statusCode).toBe(401);
      const started = await open.inject({
        method: 'POST',
        url: '/admin/rebuilds',
        headers: { authorization: 'Bearer alpha-token' },
      });
      expect(started.statusCode).toBe(202);
    } finally {
      await open.close();
    }
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

  const token = 'admin-token-0123456789';
  const authorization = `Bearer ${token}`;

  it('starts one rebuild (202), refuses a second while it runs (409) and shows its progress', async () => {
    const app = adminApp([token]);
    try {
      const headers = { authorization };
      expect((await app.inject({ url: '/admin/rebuilds/current', headers })).statusCode).toBe(404);
      const started = await app.inject({ method: 'POST', url: '/admin/rebuilds', headers });
      expect(started.statusCode).toBe(202);
      expect(started.json()).toEqual({ rebuild: { id: '7', status: 'running' } });
      const again = await app.inject({ method: 'POST', url: '/admin/rebuilds', headers });
      expect(again.statusCode).toBe(409);
      expect(again.json()).toMatchObject({ error: { code: 'conflict' } });
      const current = await app.inject({ url: '/admin/rebuilds/current', headers });
      expect(current.json()).toMatchObject({ rebuild: { id: '7', lag: 20, status: 'running' } });
    } finally {
      await app.close();
    }
  });

  it('needs a token when API_TOKENS is set', async () => {
    const app = adminApp([token]);
    try {
      const without = await app.inject({ method: 'POST', url: '/admin/rebuilds' });
      expect(without.statusCode).toBe(401);
      expect(without.json()).toMatchObject({ error: { code: 'unauthorized' } });
      const wrong = await app.inject({
        method: 'POST',
        url: '/admin/rebuilds',
        headers: { authorization: 'Bearer not-the-admin-token' },
      });
      expect(wrong.statusCode).toBe(401);
    } finally {
      await app.close();
    }
  });

  it('is closed to everyone without API_TOKENS (AUTH_DISABLED opens /v1 only), saying what to set', async () => {
    const app = adminApp();
    try {
      for (const request of [
        { method: 'POST' as const, url: '/admin/rebuilds' },
        { method: 'GET' as const, url: '/admin/rebuilds/current' },
        { method: 'POST' as const, url: '/admin/rebuilds', headers: { authorization } },
      ]) {
        const response = await app.inject(request);
        expect(response.statusCode).toBe(403);
        expect(response.json<{ error: { code: string; message: string } }>().error).toMatchObject({
          code: 'admin_disabled',
          message: expect.stringContaining('/admin/* needs API_TOKENS') as unknown,
        });
      }
      expect((await app.inject({ url: '/v1/users/2/read-states?channel_ids=10' })).statusCode).toBe(200);
    } finally {
      await app.close();
    }
  });
});

describe('503s say when to retry', () => {
  const unavailable = (Object.keys(API_ERRORS) as ApiErrorCode[]).filter((code) => API_ERRORS[code] === 503);

  it('covers the codes the service raises', () => {
    expect([...unavailable].sort()).toEqual([
      'dependency_unavailable',
      'engine_timeout',
      'not_caught_up',
      'not_ready',
      'overloaded',
      'owner_unreachable',
      'partition_not_owned',
      'partition_restoring',
      'shutting_down',
    ]);
  });

  function appFailingWith(error: ApiError): App {
    const fail = () => Promise.reject(error);
    return appWith({ readStates: { lookup: fail, listChannels: fail } });
  }

  it.each(unavailable)(
    '%s: 503, Retry-After 1 by default, the code and message in the body',
    async (code) => {
      const app = appFailingWith(new ApiError(code, `${code}: try again`));
      try {
        const response = await app.inject({ url: '/v1/users/2/read-states?channel_ids=10' });
        expect(response.statusCode).toBe(503);
        expect(response.headers['retry-after']).toBe('1');
        expect(response.json()).toEqual({ error: { code, message: `${code}: try again` } });
      } finally {
        await app.close();
      }
    },
  );

  it('passes on the seconds the thrower gives, rounded up to whole seconds', async () => {
    const app = appFailingWith(
      new ApiError('partition_restoring', 'partition 3 is catching up', { retryAfterSeconds: 4.2 }),
    );
    try {
      const response = await app.inject({
        method: 'POST',
        url: '/v1/read-states/query',
        payload: { user_id: '2', channel_ids: ['10'] },
      });
      expect(response.statusCode).toBe(503);
      expect(response.headers['retry-after']).toBe('5');
    } finally {
      await app.close();
    }
  });

  it('puts Retry-After on 503s only', async () => {
    expect(new ApiError('conflict', 'x', { retryAfterSeconds: 3 }).retryAfterSeconds).toBeUndefined();
    const app = appFailingWith(new ApiError('invalid_request', 'no'));
    try {
      const response = await app.inject({ url: '/v1/users/2/read-states?channel_ids=10' });
      expect(response.statusCode).toBe(400);
      expect(response.headers['retry-after']).toBeUndefined();
    } finally {
      await app.close();
    }
  });

  it('answers requests that arrive while the server closes with 503 shutting_down', async () => {
    // Request A holds its connection open in a lookup; the server starts closing; B arrives on that connection.
    let lookupStarted = () => {};
    const started = new Promise<void>((resolve) => (lookupStarted = resolve));
    let releaseLookup = () => {};
    const released = new Promise<void>((resolve) => (releaseLookup = resolve));
    const source = memorySource();
    const app = appWith({
      readStates: {
        ...source,
        lookup: async (user, channels) => {
          lookupStarted();
          await released;
          return source.lookup(user, channels);
        },
      },
    });
    const closing = new Promise<void>((resolve) => {
      app.addHook('preClose', (done) => {
        resolve();
        done();
      });
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const get = 'GET /v1/users/2/read-states?channel_ids=10 HTTP/1.1\r\nHost: localhost\r\n\r\n';
    const { socket, received } = openSocket(app, get);
    await started;
    const closed = app.close();
    await closing;
    socket.write(get);
    await new Promise((resolve) => setTimeout(resolve, 50));
    releaseLookup();
    const [first = '', second = ''] = (await received).split(/(?=HTTP\/1\.1 )/);
    await closed;
    expect(first).toMatch(/^HTTP\/1\.1 200 /);
    expect(second).toMatch(/^HTTP\/1\.1 503 /);
    expect(second).toMatch(/\r\nretry-after: 1\r\n/i);
    expect(second).toMatch(/\r\nconnection: close\r\n/i);
    expect(JSON.parse(second.split('\r\n\r\n')[1] ?? '')).toMatchObject({ error: { code: 'shutting_down' } });
  });
});

/**
 * A raw HTTP/1.1 connection to a listening app (what app.inject cannot do: header limits, keep-alive), sending
 * `request`; `received` is everything the server sent until it closed the connection.
 */
function openSocket(app: App, request: string): { socket: Socket; received: Promise<string> } {
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('the app is not listening');
  const socket = connect(address.port, '127.0.0.1');
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  const received = new Promise<string>((resolve, reject) => {
    socket.once('close', () => {
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
    socket.once('error', reject);
  });
  socket.write(request);
  return { socket, received };
}

describe('bounded work per connection', () => {
  it('sets request, header, connection and keep-alive timeouts and the header size limit', async () => {
    const app = appWith();
    try {
      await app.ready();
      expect(app.server.requestTimeout).toBe(httpLimits.requestTimeoutMs);
      expect(app.server.headersTimeout).toBe(httpLimits.headersTimeoutMs);
      expect(app.server.timeout).toBe(httpLimits.connectionTimeoutMs);
      expect(app.server.keepAliveTimeout).toBe(httpLimits.keepAliveTimeoutMs);
      // Set from createServer's options; @types/node does not declare it on Server.
      expect((app.server as { maxHeaderSize?: number }).maxHeaderSize).toBe(httpLimits.maxHeaderBytes);
      expect(httpLimits.headersTimeoutMs).toBeLessThanOrEqual(httpLimits.requestTimeoutMs);
    } finally {
      await app.close();
    }
  });

  it('answers a GET too long for the header limit with the documented JSON 431, pointing to POST', async () => {
    const app = appWith();
    try {
      await app.listen({ host: '127.0.0.1', port: 0 });
      // 20 KB of channel ids: more than the 16 KiB the server reads of a request's line and headers.
      const ids = Array.from({ length: 1000 }, (_, i) => String(1_000_000_000_000_000_000n + BigInt(i))).join(
        ',',
      );
      expect(ids.length).toBeGreaterThan(19_000);
      const response = await openSocket(
        app,
        `GET /v1/users/2/read-states?channel_ids=${ids} HTTP/1.1\r\nHost: localhost\r\n\r\n`,
      ).received;
      const [head = '', body = ''] = response.split('\r\n\r\n');
      expect(head).toMatch(/^HTTP\/1\.1 431 /);
      expect(head).toMatch(/\r\ncontent-type: application\/json/i);
      expect(head).toContain(`\r\nContent-Length: ${Buffer.byteLength(body)}`);
      expect(JSON.parse(body)).toEqual({
        error: {
          code: 'headers_too_large',
          message: expect.stringContaining('use POST /v1/read-states/query for many channels') as unknown,
        },
      });
      // The same ids fit in a POST.
      const post = await app.inject({
        method: 'POST',
        url: '/v1/read-states/query',
        payload: { user_id: '2', channel_ids: ids.split(',') },
      });
      expect(post.statusCode).toBe(200);
    } finally {
      await app.close();
    }
  });

  it('answers a request that timed out with 408 request_timeout and a malformed one with 400', () => {
    for (const [parserCode, status, code] of [
      ['ERR_HTTP_REQUEST_TIMEOUT', 408, 'request_timeout'],
      ['HPE_INVALID_METHOD', 400, 'invalid_request'],
    ] as const) {
      let written = '';
      let destroyed = false;
      const socket = {
        destroyed: false,
        writable: true,
        write: (data: string) => {
          written += data;
          return true;
        },
        destroy: () => {
          destroyed = true;
        },
      };
      const error = Object.assign(new Error(parserCode), { code: parserCode });
      clientErrorHandler(createLogger('silent'))(error, socket as never);
      expect(written).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
      expect(JSON.parse(written.split('\r\n\r\n')[1] ?? '')).toMatchObject({ error: { code } });
      expect(destroyed).toBe(true);
    }
  });
});
