/**
 * The floor of the query benchmark: node:http answering constant bodies of the sizes the two lookups return, on
 * `threads` threads on one port (reusePort), as the service spreads its own. This module is also the extra
 * threads' entry: each listens on the port the main thread bound.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { channelId, userId } from './dataset.ts';

const entry = (i: number) =>
  `{"channel_id":"${channelId(i)}","last_acked_message_id":"300000000000000001","last_message_id":"300000000000000011","unread_count":9,"mention_count":1,"first_unread_message_id":"300000000000000002"}`;
const body = (n: number) =>
  Buffer.from(
    `{"user_id":"${userId(1)}","read_states":[${Array.from({ length: n }, (_, i) => entry(i)).join(',')}]}`,
  );

function listen(port: number, reusePort: boolean): Promise<Server> {
  const one = body(1);
  const fifty = body(50);
  const server = createServer((request, response) => {
    response.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
    const url = request.url ?? '';
    response.end(url.includes('%2C') || url.includes(',') ? fifty : one);
  });
  server.keepAliveTimeout = 60_000;
  return new Promise((resolve) =>
    server.listen({ host: '127.0.0.1', port, reusePort }, () => {
      resolve(server);
    }),
  );
}

/** Listens on `threads` threads; resolves with the port. */
export async function startBareServer(threads: number): Promise<number> {
  const main = await listen(0, threads > 1);
  const port = (main.address() as AddressInfo).port;
  await Promise.all(
    Array.from({ length: threads - 1 }, async () => {
      const worker = new Worker(new URL(import.meta.url), { workerData: { port } });
      worker.unref();
      await new Promise((resolve) => worker.once('message', resolve));
    }),
  );
  return port;
}

if (!isMainThread) {
  await listen((workerData as { port: number }).port, true);
  parentPort?.postMessage('listening');
}
