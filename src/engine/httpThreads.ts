import type { AddressInfo, ListenOptions } from 'node:net';
import { Worker } from 'node:worker_threads';
import { AggregatorRegistry, type Registry } from 'prom-client';
import { ApiError } from '../api/apiError.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type {
  ControlReplies,
  ControlRequest,
  CrossedError,
  FromHttpThread,
  HttpControl,
  HttpThreadData,
  ThreadMetrics,
  ToHttpThread,
} from './httpThreadProtocol.ts';
import type { ClusterMap } from '../ingest/clusterMap.ts';
import { createThreadApp } from './threadApp.ts';

/**
 * How long close() waits for an HTTP thread to finish its requests in flight and end before terminating it: it
 * runs after the projector's stop (7 s at most) and before the engine's close (4 s), within SHUTDOWN_TIMEOUT_MS.
 */
export const HTTP_THREAD_CLOSE_TIMEOUT_MS = 2_500;

/**
 * Whether this platform spreads one port's connections over several listening sockets (SO_REUSEPORT with load
 * balancing): Linux does. Elsewhere the service serves HTTP on one thread and says so at start.
 */
export function reusePortSpreadsLoad(platform: NodeJS.Platform = process.platform): boolean {
  return platform === 'linux';
}

/** The main thread's handle on the extra HTTP threads (httpThread.ts). */
export interface HttpThreads {
  /** Resolves once every thread listens; rejects if one cannot. */
  readonly listening: Promise<void>;
  /** The projector started: the threads may answer lookups. */
  started(partitionCount: number): void;
  clusterChanged(map: ClusterMap): void;
  /** Each thread's metrics, for `aggregateMetrics`; its hot-tier counts are also kept for `hotTierLookups`. */
  collect(): Promise<ThreadMetrics[]>;
  /** The hot-tier reads of every extra thread, as last collected. */
  hotTierLookups(): HotTierReads;
  /** Stops every thread: each finishes its requests in flight (new ones get 503 shutting_down). */
  close(): Promise<void>;
}

/** Hot-tier reads since start: answered, declined (left to RocksDB), and sleeps until the writer ended an update. */
export type HotTierReads = { answered: number; declined: number; sleeps: number };

type Pending = { resolve: (value: unknown) => void; reject: (error: Error) => void };

function crossed(error: unknown): CrossedError {
  if (error instanceof ApiError) {
    return {
      message: error.message,
      code: error.code,
      api: true,
      ...(error.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: error.retryAfterSeconds }),
    };
  }
  const { message, code } = error as { message?: unknown; code?: unknown };
  return {
    message: typeof message === 'string' ? message : String(error),
    ...(typeof code === 'string' ? { code } : {}),
  };
}

function answer<R extends ControlRequest>(
  control: HttpControl,
  request: R,
): ControlReplies[R['type']] | Promise<ControlReplies[R['type']]> {
  type Out = ControlReplies[R['type']];
  switch (request.type) {
    case 'lookup':
      return control.lookup(request.userId, request.channelIds) as Promise<Out>;
    case 'listChannels':
      return control.listChannels(request.userId, {
        limit: request.limit,
        ...(request.after === undefined ? {} : { after: request.after }),
        ...(request.partitions === undefined ? {} : { partitions: request.partitions }),
      }) as Promise<Out>;
    case 'readiness':
      return control.readiness() as Out;
    case 'startRebuild':
      return control.startRebuild() as Promise<Out>;
    case 'rebuildStatus':
      return control.rebuildStatus() as Promise<Out>;
    case 'cluster':
      return control.cluster() as Promise<Out>;
    case 'metricsText':
      return control.metricsText() as Promise<Out>;
  }
  throw new Error(`unknown request ${(request as { type: string }).type}`);
}

/**
 * Starts `count` HTTP threads besides the main thread, on the port the main thread listens on already (with
 * `reusePort`). They answer from the shared buffers in `data`, and ask `control` (the main thread) for the rest.
 * A thread that fails after start-up is fatal (`onFatal`): never half the threads serving.
 */
export function startHttpThreads(options: {
  count: number;
  data: Omit<HttpThreadData, 'thread'>;
  control: HttpControl;
  logger: Logger;
  onFatal: (error: Error) => void;
}): HttpThreads {
  const { control, logger } = options;
  let closing = false;
  let nextId = 1;
  const pending = new Map<number, Pending>();
  const lookups = new Map<number, HotTierReads>();

  const threads = Array.from({ length: options.count }, (_, index) => {
    const thread = index + 1;
    const worker = new Worker(new URL('./httpThread.ts', import.meta.url), {
      workerData: { ...options.data, thread } satisfies HttpThreadData,
    });
    const post = (message: ToHttpThread) => {
      worker.postMessage(message);
    };
    let listening!: { resolve: () => void; reject: (error: Error) => void };
    const listened = new Promise<void>((resolve, reject) => (listening = { resolve, reject }));
    const exited = new Promise<void>((resolve) =>
      worker.once('exit', () => {
        resolve();
      }),
    );

    worker.on('message', (message: FromHttpThread) => {
      switch (message.type) {
        case 'listening':
          listening.resolve();
          return;
        case 'call': {
          const { id, request } = message;
          Promise.resolve()
            .then(() => answer(control, request))
            .then(
              (value) => {
                post({ type: 'reply', id, ok: true, value });
              },
              (error: unknown) => {
                post({ type: 'reply', id, ok: false, error: crossed(error) });
              },
            );
          return;
        }
        case 'reply': {
          const waiting = pending.get(message.id);
          pending.delete(message.id);
          if (message.ok) waiting?.resolve(message.value);
          else waiting?.reject(new Error(message.error.message));
          return;
        }
        case 'closed':
          return;
      }
    });
    const failed = (error: Error) => {
      listening.reject(error);
      if (closing) return;
      logger.error({ err: error, httpThread: thread }, 'an HTTP thread failed');
      options.onFatal(error);
    };
    worker.on('error', failed);
    worker.on('exit', (code) => {
      if (!closing) failed(new Error(`HTTP thread ${thread} exited (code ${code})`));
    });

    function ask(): Promise<ThreadMetrics> {
      const id = nextId++;
      return new Promise<ThreadMetrics>((resolve, reject) => {
        pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
        post({ type: 'metrics', id });
      }).then((metrics) => {
        lookups.set(thread, metrics.hotTier);
        return metrics;
      });
    }

    async function close(): Promise<void> {
      post({ type: 'close' });
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => {
        timer = setTimeout(() => {
          resolve('late');
        }, HTTP_THREAD_CLOSE_TIMEOUT_MS);
      });
      if ((await Promise.race([exited, late])) === 'late') {
        logger.warn(
          { httpThread: thread, timeoutMs: HTTP_THREAD_CLOSE_TIMEOUT_MS },
          'an HTTP thread did not finish its requests in time; terminating it',
        );
        await worker.terminate();
      }
      clearTimeout(timer);
    }

    return { post, listened, ask, close };
  });

  const listening = Promise.all(threads.map((t) => t.listened)).then(() => undefined);
  // A failure surfaces through `listening` when awaited, and through onFatal after.
  listening.catch(() => undefined);

  return {
    listening,
    started(partitionCount) {
      for (const thread of threads) thread.post({ type: 'started', partitionCount });
    },
    clusterChanged(map) {
      for (const thread of threads) thread.post({ type: 'cluster', map });
    },
    collect: () => Promise.all(threads.map((thread) => thread.ask())),
    hotTierLookups() {
      let answered = 0;
      let declined = 0;
      let sleeps = 0;
      for (const counts of lookups.values()) {
        answered += counts.answered;
        declined += counts.declined;
        sleeps += counts.sleeps;
      }
      return { answered, declined, sleeps };
    },
    async close() {
      closing = true;
      for (const { reject } of pending.values()) reject(new Error('the HTTP threads are closing'));
      pending.clear();
      await Promise.all(threads.map((thread) => thread.close()));
    },
  };
}

/**
 * The Prometheus text of the main thread's registry and every HTTP thread's, added up (prom-client's cluster
 * aggregation: counters and histograms summed per label set). Collect the threads first: the main thread's
 * hot-tier counters include their counts.
 */
export async function aggregateMetrics(main: Registry, threads: readonly ThreadMetrics[]): Promise<string> {
  if (threads.length === 0) return main.metrics();
  const all = [await main.getMetricsAsJSON(), ...threads.map((thread) => thread.metrics)];
  return AggregatorRegistry.aggregate(all).metrics();
}

/** HTTP served on every thread asked for: the main thread's app, and the extra threads beside it. */
export interface HttpServing {
  /** The port every thread listens on (the one bound, when HTTP_PORT was 0). */
  readonly port: number;
  /** Threads serving, the main thread included. */
  readonly threads: number;
  /** The projector started: every thread may answer lookups. */
  started(partitionCount: number): void;
  /** The consumer group's latest map: every thread routes lookups by it. */
  clusterChanged(map: ClusterMap): void;
  /** Hot-tier reads of every thread: the main thread's now, the others' as of the last metrics collection. */
  hotTierLookups(): HotTierReads;
  /** The same, collected from every thread now. */
  collectHotTierLookups(): Promise<HotTierReads>;
  /** Stops every thread; each finishes its requests in flight. */
  close(): Promise<void>;
}

/**
 * Serves the API on `threads` threads on one port: this (main) thread, and `threads − 1` HTTP threads, all
 * listening with `reusePort`. Where the kernel does not spread one port's connections over its sockets
 * (`reusePortSpreadsLoad`), it serves on this thread alone and warns. /metrics on any thread answers every
 * thread's metrics added up.
 */
export async function serveHttp(options: {
  threads: number;
  host: string;
  port: number;
  logLevel: string;
  apiTokens: readonly string[] | undefined;
  authDisabled: boolean;
  shared: Pick<HttpThreadData, 'hotTier' | 'partitions'>;
  /** This instance's advertised URL. */
  self: string;
  control: Omit<HttpControl, 'metricsText'>;
  metrics?: Pick<Metrics, 'registry' | 'httpRequestSeconds'>;
  rebuilds: boolean;
  logger: Logger;
  onFatal: (error: Error) => void;
}): Promise<HttpServing> {
  const { logger, metrics } = options;
  let extra = options.threads - 1;
  if (extra > 0 && !reusePortSpreadsLoad()) {
    logger.warn(
      { HTTP_THREADS: options.threads, platform: process.platform },
      'HTTP_THREADS > 1 needs SO_REUSEPORT with load balancing (Linux); serving HTTP on one thread',
    );
    extra = 0;
  }
  let others: HttpThreads | undefined;
  const control: HttpControl = {
    ...options.control,
    metricsText: async () =>
      metrics === undefined ? '' : aggregateMetrics(metrics.registry, (await others?.collect()) ?? []),
  };
  const main = createThreadApp({
    logger: options.logger,
    shared: options.shared,
    control,
    apiTokens: options.apiTokens,
    authDisabled: options.authDisabled,
    ...(metrics === undefined ? {} : { metrics }),
    rebuilds: options.rebuilds,
    self: options.self,
  });
  // With reusePort the other threads can bind the same port: the one bound here.
  const listen: ListenOptions = { host: options.host, port: options.port, reusePort: extra > 0 };
  await main.app.listen(listen);
  const port = (main.app.server.address() as AddressInfo).port;
  if (extra > 0) {
    others = startHttpThreads({
      count: extra,
      data: {
        host: options.host,
        port,
        logLevel: options.logLevel,
        apiTokens: options.apiTokens,
        authDisabled: options.authDisabled,
        hotTier: options.shared.hotTier,
        partitions: options.shared.partitions,
        rebuilds: options.rebuilds,
        self: options.self,
      },
      control,
      logger,
      onFatal: options.onFatal,
    });
    try {
      await others.listening;
    } catch (error) {
      await Promise.all([main.app.close(), others.close()]);
      throw error;
    }
  }

  function hotTierLookups(): HotTierReads {
    const own = main.hotTier.stats();
    const rest = others?.hotTierLookups() ?? { answered: 0, declined: 0, sleeps: 0 };
    return {
      answered: own.answered + rest.answered,
      declined: own.declined + rest.declined,
      sleeps: own.sleeps + rest.sleeps,
    };
  }

  const threads = extra + 1;
  logger.info({ port, threads }, 'HTTP listening');
  return {
    port,
    threads,
    started(partitionCount) {
      main.started(partitionCount);
      others?.started(partitionCount);
    },
    clusterChanged(map) {
      main.clusterChanged(map);
      others?.clusterChanged(map);
    },
    hotTierLookups,
    async collectHotTierLookups() {
      await others?.collect();
      return hotTierLookups();
    },
    async close() {
      await Promise.all([main.app.close(), others?.close()]);
    },
  };
}
