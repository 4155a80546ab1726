import Fastify, { type FastifyError, type FastifyRequest } from 'fastify';
import { isSnowflake, type Snowflake } from '../contract/snowflake.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { RebuildProgress } from '../ops/rebuild.ts';
import type { ReadStateView } from '../projection/readStateOf.ts';
import { ApiError, DEFAULT_RETRY_AFTER_SECONDS, errorBody } from './apiError.ts';
import { refuseAdminWithoutTokens, requireBearerToken } from './bearerAuth.ts';
import { clientErrorHandler } from './clientErrorHandler.ts';
import { httpLimits } from './httpLimits.ts';
import { lookupResponseJson, summaryResponseJson, type AnsweredReadState } from './lookupResponse.ts';
import { channelIdList, lookupQuery, pageQuery, parseInput, queryBody, userParams } from './requests.ts';

/** Where the API reads read states from: RocksDB, or the hot tier in front of it. */
export interface ReadStateSource {
  lookup(userId: Snowflake, channelIds: readonly Snowflake[]): Promise<ReadStateView[]>;
  /** Channels where the user has a read state, ascending, after `after`, at most `limit`. */
  listChannels(
    userId: Snowflake,
    options: { limit: number; after?: Snowflake; partitions?: readonly number[] },
  ): Promise<Snowflake[]>;
}

export interface Freshness {
  positions: Record<string, { messages: string; acks: string }>;
  stale: boolean;
}

/** Per partition, the offsets an answer must have applied (`min_positions`): read your own writes. */
export type MinPositions = ReadonlyMap<number, { readonly messages?: bigint; readonly acks?: bigint }>;

/** Who asks, as far as answering goes. */
export interface LookupContext {
  /** How many instances passed this request on already (x-readstates-hop): 0 when it comes from a client. */
  hop: number;
  /** The client's Authorization header, passed on when the request goes to another instance. */
  authorization: string | undefined;
  minPositions: MinPositions | undefined;
}

/** An answer and where it stands (per partition used, the offsets applied; `stale` when it may lag the log). */
export interface Answer {
  views: readonly AnsweredReadState[];
  freshness: Freshness | undefined;
}

/**
 * Lookups and listings answered wherever the channels live (the cluster: engine/clusterReads.ts). Without it, the
 * API answers from `readStates` and `freshness`, this instance alone.
 */
export interface Reads {
  lookup(userId: Snowflake, channelIds: readonly Snowflake[], context: LookupContext): Promise<Answer>;
  /** The user's read states in channel-id order after `after`, at most `limit`; only `partitions` when given. */
  list(
    userId: Snowflake,
    page: { limit: number; after?: Snowflake; partitions?: readonly number[] },
    context: LookupContext,
  ): Promise<Answer>;
}

export interface AppDependencies {
  logger: Logger;
  readStates: ReadStateSource;
  reads?: Reads;
  /** GET /v1/cluster: the members, every partition's owner and this instance's view of it. */
  cluster?: () => Promise<unknown>;
  /** Undefined when ready; otherwise why not (e.g. the lag still to consume). Asynchronous on HTTP threads. */
  notReadyReason: () => string | undefined | Promise<string | undefined>;
  /** Each dependency's state for /readyz ("up", or what is wrong), ready or not. */
  dependencies?: () => Record<string, string> | Promise<Record<string, string>>;
  /**
   * Where an answer stands, asked BEFORE the lookup so that the answer is at least this fresh: per partition of
   * the channels asked, the offsets applied on each topic; `stale` while the consumer is down (the answer may be
   * older than the log). Undefined while the service is starting.
   */
  freshness?: (channelIds: readonly Snowflake[]) => Freshness | undefined;
  /**
   * /v1/* and /admin/* need `Authorization: Bearer <one of these>`. Without them /v1/* is open and /admin/*
   * refused (403 `admin_disabled`): `serve` allows that only with AUTH_DISABLED=true (checkServeConfig).
   */
  apiTokens?: readonly string[];
  /** AUTH_DISABLED: /v1/* answers without a token even when apiTokens are set; /admin/* still needs one. */
  authDisabled?: boolean;
  /** When set, fed with request latencies, and its registry served at /metrics (unless `metricsText`). */
  metrics?: Pick<Metrics, 'registry' | 'httpRequestSeconds'>;
  /** What /metrics answers when there are several HTTP threads: every thread's metrics added up. */
  metricsText?: () => Promise<string>;
  /** When set, /admin/rebuilds starts and shows rebuilds (behind the same tokens as /v1, never open). */
  rebuilds?: {
    start(): Promise<{ id: string }>;
    status(): Promise<RebuildProgress | null>;
  };
}

const JSON_TYPE = 'application/json; charset=utf-8';

/** Builds the HTTP API without listening: tests call `app.inject()`, main.ts calls `listen()`. */
export function buildApp(deps: AppDependencies) {
  // Per-request logs at 10k requests/s would drown everything else; errors are still logged.
  const log = deps.logger.child({ part: 'http' }, { level: 'warn' });
  const app = Fastify({
    loggerInstance: log,
    bodyLimit: httpLimits.maxBodyBytes,
    requestTimeout: httpLimits.requestTimeoutMs,
    connectionTimeout: httpLimits.connectionTimeoutMs,
    keepAliveTimeout: httpLimits.keepAliveTimeoutMs,
    http: {
      maxHeaderSize: httpLimits.maxHeaderBytes,
      headersTimeout: httpLimits.headersTimeoutMs,
      connectionsCheckingInterval: httpLimits.timeoutCheckIntervalMs,
    },
    clientErrorHandler: clientErrorHandler(log),
    // Our own 503 while closing (below), so that one too has the API's shape and a Retry-After.
    return503OnClosing: false,
  });

  app.setErrorHandler((error: FastifyError | ApiError, request, reply) => {
    if (error instanceof ApiError) {
      // The one place Retry-After is set: every 503 the API sends passes here.
      if (error.retryAfterSeconds !== undefined) reply.header('retry-after', String(error.retryAfterSeconds));
      return reply.code(error.status).send(errorBody(error.code, error.message));
    }
    if (error.statusCode === 413) {
      return reply
        .code(413)
        .send(errorBody('payload_too_large', `the body exceeds ${httpLimits.maxBodyBytes} bytes`));
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

  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  // Requests still arriving on open keep-alive connections while the server drains.
  app.addHook('onRequest', (_request, reply, done) => {
    if (!closing) {
      done();
      return;
    }
    void reply.header('connection', 'close');
    done(new ApiError('shutting_down', 'this instance is shutting down; retry, another instance may answer'));
  });

  const metrics = deps.metrics;
  if (metrics !== undefined) {
    app.addHook('onResponse', (request, reply, done) => {
      metrics.httpRequestSeconds.observe(
        { route: request.routeOptions.url ?? 'unknown', status: String(reply.statusCode) },
        reply.elapsedTime / 1000,
      );
      done();
    });
    const metricsText = deps.metricsText ?? (() => metrics.registry.metrics());
    app.get('/metrics', async (_request, reply) =>
      reply.type(metrics.registry.contentType).send(await metricsText()),
    );
  }

  app.get('/healthz', () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const reason = await deps.notReadyReason();
    const dependencies = await deps.dependencies?.();
    if (reason === undefined)
      return { status: 'ready', ...(dependencies === undefined ? {} : { dependencies }) };
    return reply
      .code(503)
      .header('retry-after', String(DEFAULT_RETRY_AFTER_SECONDS))
      .send({ status: 'not_ready', reason, ...(dependencies === undefined ? {} : { dependencies }) });
  });

  const requireToken =
    deps.apiTokens === undefined || deps.apiTokens.length === 0
      ? undefined
      : requireBearerToken(deps.apiTokens);

  const rebuilds = deps.rebuilds;
  if (rebuilds !== undefined) {
    void app.register(
      (admin, _options, done) => {
        admin.addHook('onRequest', requireToken ?? refuseAdminWithoutTokens);
        admin.post('/rebuilds', async (_request, reply) => {
          const { id } = await rebuilds.start().catch((error: unknown) => {
            const { code } = error as { code?: unknown };
            if (code === 'rebuild_running') throw new ApiError('conflict', (error as Error).message);
            if (code === 'dependency_unavailable') {
              throw new ApiError('dependency_unavailable', (error as Error).message, {
                retryAfterSeconds: 10,
              });
            }
            throw error;
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

  const reads = deps.reads ?? localReads(deps);

  void app.register(
    (v1, _options, done) => {
      if (requireToken !== undefined && deps.authDisabled !== true) v1.addHook('onRequest', requireToken);

      v1.get('/users/:user_id/read-states', async (request, reply) => {
        const params = request.params as Record<string, unknown>;
        const user_id =
          typeof params.user_id === 'string' && isSnowflake(params.user_id)
            ? params.user_id
            : parseInput(userParams, params).user_id;
        const query = request.query as Record<string, unknown>;
        const context = contextOf(request.headers, undefined);
        if (query.channel_ids !== undefined) {
          const channel_ids = channelIdList(query.channel_ids) ?? parseInput(lookupQuery, query).channel_ids;
          const { views, freshness } = await reads.lookup(user_id, channel_ids, context);
          return reply.type(JSON_TYPE).send(lookupResponseJson(user_id, views, freshness));
        }
        const { limit, cursor, partitions } = parseInput(pageQuery, query);
        const { views, freshness } = await reads.list(
          user_id,
          {
            limit,
            ...(cursor === undefined ? {} : { after: cursor }),
            ...(partitions === undefined ? {} : { partitions }),
          },
          context,
        );
        const nextCursor = views.length === limit ? (views.at(-1)?.channel_id ?? null) : null;
        return reply.type(JSON_TYPE).send(lookupResponseJson(user_id, views, freshness, nextCursor));
      });

      /** A POST body's lookup (`queryBody`), answered wherever its channels live. */
      const queried = async (request: FastifyRequest) => {
        const { user_id, channel_ids, min_positions } = parseInput(queryBody, request.body);
        const answer = await reads.lookup(user_id, channel_ids, contextOf(request.headers, min_positions));
        return { user_id, ...answer };
      };

      v1.post('/read-states/query', async (request, reply) => {
        const { user_id, views, freshness } = await queried(request);
        return reply.type(JSON_TYPE).send(lookupResponseJson(user_id, views, freshness));
      });

      // A badge for a server or guild: the same lookup, added up (exact: the sums of exact counts).
      v1.post('/read-states/summary', async (request, reply) => {
        const { user_id, views, freshness } = await queried(request);
        return reply.type(JSON_TYPE).send(summaryResponseJson(user_id, views, freshness));
      });

      const cluster = deps.cluster;
      if (cluster !== undefined) v1.get('/cluster', () => cluster());
      done();
    },
    { prefix: '/v1' },
  );

  return app;
}

export type App = ReturnType<typeof buildApp>;

/** The header instances mark a request with when they pass it on: a passed-on request is never passed on again. */
export const HOP_HEADER = 'x-readstates-hop';

function contextOf(
  headers: Record<string, string | string[] | undefined>,
  minPositions: MinPositions | undefined,
): LookupContext {
  const hop = headers[HOP_HEADER];
  const authorization = headers.authorization;
  return {
    hop: hop === '1' ? 1 : hop === '2' ? 2 : 0,
    authorization: typeof authorization === 'string' ? authorization : undefined,
    minPositions,
  };
}

/** This instance alone: `readStates`, with `freshness` asked before the lookup so the answer is at least as fresh. */
function localReads(deps: Pick<AppDependencies, 'readStates' | 'freshness'>): Reads {
  return {
    async lookup(userId, channelIds) {
      const freshness = deps.freshness?.(channelIds);
      return { views: await deps.readStates.lookup(userId, channelIds), freshness };
    },
    async list(userId, page) {
      const channels = await deps.readStates.listChannels(userId, {
        limit: page.limit,
        ...(page.after === undefined ? {} : { after: page.after }),
      });
      const freshness = deps.freshness?.(channels);
      return { views: await deps.readStates.lookup(userId, channels), freshness };
    },
  };
}
