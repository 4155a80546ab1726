import { createHash, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyError, type FastifyRequest } from 'fastify';
import type { Snowflake } from '../contract/snowflake.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { RebuildProgress } from '../ops/rebuild.ts';
import type { ReadStateView } from '../projection/readStateOf.ts';
import { ApiError, errorBody } from './apiError.ts';
import { lookupQuery, pageQuery, parseInput, queryBody, userParams } from './requests.ts';

/** Where the API reads read states from: RocksDB, or the hot tier in front of it. */
export interface ReadStateSource {
  lookup(userId: Snowflake, channelIds: readonly Snowflake[]): Promise<ReadStateView[]>;
  /** Channels where the user has a read state, ascending, after `after`, at most `limit`. */
  listChannels(userId: Snowflake, options: { limit: number; after?: Snowflake }): Promise<Snowflake[]>;
}

export interface AppDependencies {
  logger: Logger;
  readStates: ReadStateSource;
  /** Undefined when ready; otherwise why not (e.g. the lag still to consume). */
  notReadyReason: () => string | undefined;
  /** When set, /v1/* needs `Authorization: Bearer <one of these>`. */
  apiTokens?: readonly string[];
  /** When set, served at /metrics and fed with request latencies. */
  metrics?: Metrics;
  /** When set, /admin/rebuilds starts and shows rebuilds (behind the same tokens as /v1). */
  rebuilds?: {
    start(): Promise<{ id: string }>;
    status(): Promise<RebuildProgress | null>;
  };
}

export const MAX_BODY_BYTES = 64 * 1024;

function toWire(view: ReadStateView) {
  return {
    channel_id: view.channel_id,
    last_acked_message_id: view.last_acked_message_id,
    last_message_id: view.last_message_id,
    unread_count: view.unread_count,
    mention_count: view.mention_count,
  };
}

/** Hashing first gives equal lengths, so the comparison takes the same time whatever the token. */
function tokenChecker(tokens: readonly string[]): (presented: string) => boolean {
  const digest = (value: string) => createHash('sha256').update(value).digest();
  const expected = tokens.map(digest);
  return (presented) => {
    const candidate = digest(presented);
    let match = false;
    for (const token of expected) match = timingSafeEqual(token, candidate) || match;
    return match;
  };
}

/** Builds the HTTP API without listening: tests call `app.inject()`, main.ts calls `listen()`. */
export function buildApp(deps: AppDependencies) {
  const app = Fastify({
    // Per-request logs at 10k requests/s would drown everything else; errors are still logged.
    loggerInstance: deps.logger.child({ part: 'http' }, { level: 'warn' }),
    bodyLimit: MAX_BODY_BYTES,
  });

  app.setErrorHandler((error: FastifyError | ApiError, request, reply) => {
    if (error instanceof ApiError) return reply.code(error.status).send(errorBody(error.code, error.message));
    if (error.statusCode === 413) {
      return reply.code(413).send(errorBody('payload_too_large', `the body exceeds ${MAX_BODY_BYTES} bytes`));
    }
    if (error.statusCode === 415) {
      return reply.code(415).send(errorBody('unsupported_media_type', 'send the body as application/json'));
    }
    if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
      return reply.code(400).send(errorBody('invalid_request', error.message));
    }
    request.log.error({ err: error }, 'request failed');
    return reply
      .code(500)
      .send(errorBody('internal_error', 'internal error; the server log has the details'));
  });
  app.setNotFoundHandler((request, reply) =>
    reply
      .code(404)
      .send(errorBody('not_found', `no route for ${request.method} ${request.url.split('?')[0] ?? ''}`)),
  );

  const metrics = deps.metrics;
  if (metrics !== undefined) {
    app.addHook('onResponse', (request, reply, done) => {
      metrics.httpRequestSeconds.observe(
        { route: request.routeOptions.url ?? 'unknown', status: String(reply.statusCode) },
        reply.elapsedTime / 1000,
      );
      done();
    });
    app.get('/metrics', async (_request, reply) =>
      reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
    );
  }

  app.get('/healthz', () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const reason = deps.notReadyReason();
    if (reason === undefined) return { status: 'ready' };
    return reply.code(503).send({ status: 'not_ready', reason });
  });

  const requireToken = (() => {
    const tokens = deps.apiTokens;
    if (tokens === undefined || tokens.length === 0) return undefined;
    const accepts = tokenChecker(tokens);
    return (request: FastifyRequest, _reply: unknown, next: (error?: Error) => void) => {
      const header = request.headers.authorization ?? '';
      const match = /^Bearer (.+)$/.exec(header);
      if (match?.[1] === undefined || !accepts(match[1])) {
        next(new ApiError('unauthorized', 'send a valid token: Authorization: Bearer <token>'));
        return;
      }
      next();
    };
  })();

  const rebuilds = deps.rebuilds;
  if (rebuilds !== undefined) {
    void app.register(
      (admin, _options, done) => {
        if (requireToken !== undefined) admin.addHook('onRequest', requireToken);
        admin.post('/rebuilds', async (_request, reply) => {
          const { id } = await rebuilds.start().catch((error: unknown) => {
            const running = (error as { code?: unknown }).code === 'rebuild_running';
            throw running ? new ApiError('conflict', (error as Error).message) : error;
          });
          return reply.code(202).send({ rebuild: { id, status: 'running' } });
        });
        admin.get('/rebuilds/current', async () => {
          const progress = await rebuilds.status();
          if (progress === null)
            throw new ApiError('not_found', 'no rebuild has run since the service started');
          return { rebuild: progress };
        });
        done();
      },
      { prefix: '/admin' },
    );
  }

  void app.register(
    (v1, _options, done) => {
      if (requireToken !== undefined) v1.addHook('onRequest', requireToken);

      v1.get('/users/:user_id/read-states', async (request) => {
        const { user_id } = parseInput(userParams, request.params);
        const query = request.query as Record<string, unknown>;
        if (query.channel_ids !== undefined) {
          const { channel_ids } = parseInput(lookupQuery, query);
          const views = await deps.readStates.lookup(user_id, channel_ids);
          return { user_id, read_states: views.map(toWire) };
        }
        const { limit, cursor } = parseInput(pageQuery, query);
        const channels = await deps.readStates.listChannels(user_id, {
          limit,
          ...(cursor === undefined ? {} : { after: cursor }),
        });
        const views = await deps.readStates.lookup(user_id, channels);
        return {
          user_id,
          read_states: views.map(toWire),
          next_cursor: channels.length === limit ? (channels.at(-1) ?? null) : null,
        };
      });

      v1.post('/read-states/query', async (request) => {
        const { user_id, channel_ids } = parseInput(queryBody, request.body);
        const views = await deps.readStates.lookup(user_id, channel_ids);
        return { user_id, read_states: views.map(toWire) };
      });
      done();
    },
    { prefix: '/v1' },
  );

  return app;
}

export type App = ReturnType<typeof buildApp>;
