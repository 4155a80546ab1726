/**
 * One extra HTTP thread (started by httpThreads.ts): the same app as the main thread's (threadApp.ts), listening
 * on the same port (SO_REUSEPORT: the kernel spreads connections over the threads), answering from the same hot
 * tier and partition states through their shared buffers. What the main thread's app asks the engine and the
 * service directly, this one asks the main thread: the engine's limits and timeouts then hold for all threads
 * together, and readiness, rebuilds and metrics have one source.
 */
import type { ListenOptions } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import { Registry } from 'prom-client';
import { ApiError, type ApiErrorCode } from '../api/apiError.ts';
import { createLogger } from '../logger.ts';
import { httpRequestHistogram } from '../metrics.ts';
import type {
  ControlReplies,
  ControlRequest,
  CrossedError,
  FromHttpThread,
  HttpControl,
  HttpThreadData,
  ToHttpThread,
} from './httpThreadProtocol.ts';
import { createThreadApp } from './threadApp.ts';

const data = workerData as HttpThreadData;
const port = parentPort;
if (port === null) throw new Error('httpThread.ts runs as a worker thread (see httpThreads.ts)');
const send = (message: FromHttpThread) => {
  port.postMessage(message);
};

const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
let nextId = 1;

function call<R extends ControlRequest>(request: R): Promise<ControlReplies[R['type']]> {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
    send({ type: 'call', id, request });
  });
}

/** An error as the main thread threw it: an ApiError again (same code, same Retry-After), or one with its code. */
function revive(error: CrossedError): Error {
  if (error.api === true) {
    return new ApiError(
      error.code as ApiErrorCode,
      error.message,
      error.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: error.retryAfterSeconds },
    );
  }
  return Object.assign(new Error(error.message), error.code === undefined ? {} : { code: error.code });
}

const control: HttpControl = {
  lookup: (userId, channelIds) => call({ type: 'lookup', userId, channelIds }),
  listChannels: (userId, options) =>
    call({
      type: 'listChannels',
      userId,
      limit: options.limit,
      ...(options.after === undefined ? {} : { after: options.after }),
      ...(options.partitions === undefined ? {} : { partitions: options.partitions }),
    }),
  readiness: () => call({ type: 'readiness' }),
  startRebuild: () => call({ type: 'startRebuild' }),
  rebuildStatus: () => call({ type: 'rebuildStatus' }),
  metricsText: () => call({ type: 'metricsText' }),
  cluster: () => call({ type: 'cluster' }),
};

const registry = new Registry();
const served = createThreadApp({
  logger: createLogger(data.logLevel).child({ httpThread: data.thread }),
  shared: data,
  control,
  apiTokens: data.apiTokens,
  authDisabled: data.authDisabled,
  metrics: { registry, httpRequestSeconds: httpRequestHistogram(registry) },
  rebuilds: data.rebuilds,
  self: data.self,
});

port.on('message', (message: ToHttpThread) => {
  switch (message.type) {
    case 'reply': {
      const waiting = pending.get(message.id);
      pending.delete(message.id);
      if (message.ok) waiting?.resolve(message.value);
      else waiting?.reject(revive(message.error));
      return;
    }
    case 'started':
      served.started(message.partitionCount);
      return;
    case 'cluster':
      served.clusterChanged(message.map);
      return;
    case 'metrics':
      void registry.getMetricsAsJSON().then((metrics) => {
        const { answered, declined, sleeps } = served.hotTier.stats();
        send({
          type: 'reply',
          id: message.id,
          ok: true,
          value: { metrics, hotTier: { answered, declined, sleeps } },
        });
      });
      return;
    case 'close':
      // As on the main thread: requests arriving meanwhile on open connections get 503 shutting_down.
      void served.app.close().finally(() => {
        send({ type: 'closed' });
        process.exit(0);
      });
      return;
  }
});

const listen: ListenOptions = { host: data.host, port: data.port, reusePort: true };
await served.app.listen(listen);
send({ type: 'listening' });
