import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { trackResource } from './resources.ts';

/**
 * A TCP proxy in front of a real server, to simulate its outage without stopping it for everyone else:
 * - `cut()` drops every connection and refuses new ones (a server that is down);
 * - `blackhole()` keeps every connection open and accepts new ones, but nothing passes either way (a network
 *   that stops answering: clients learn of it only from their own timeouts);
 * - `restore()` ends either: listens again on the same port after a cut; after a blackhole, what was held
 *   flows on, and connections accepted meanwhile are connected to the server then.
 */
export async function startTcpProxy(target: { host: string; port: number }) {
  const pairs = new Set<{ client: Socket; upstream: Socket | undefined }>();
  let server: Server | undefined;
  let port = 0;
  let holding = false;

  function connect(pair: { client: Socket; upstream: Socket | undefined }): void {
    const { client } = pair;
    const upstream = createConnection(target);
    pair.upstream = upstream;
    const dropPair = () => {
      drop(pair);
    };
    upstream.on('error', dropPair).on('close', dropPair);
    client.pipe(upstream).pipe(client);
    client.resume();
  }

  function drop(pair: { client: Socket; upstream: Socket | undefined }): void {
    pair.client.destroy();
    pair.upstream?.destroy();
    pairs.delete(pair);
  }

  async function listen(): Promise<void> {
    const next = createServer((client) => {
      const pair = { client, upstream: undefined };
      pairs.add(pair);
      const dropPair = () => {
        drop(pair);
      };
      client.on('error', dropPair).on('close', dropPair);
      // Held: accepted, but the bytes the client sends stay unread until restore().
      if (holding) client.pause();
      else connect(pair);
    });
    await new Promise<void>((resolve) => next.listen(port, '127.0.0.1', resolve));
    const address = next.address();
    if (address !== null && typeof address !== 'string') port = address.port;
    server = next;
  }

  async function cut(): Promise<void> {
    holding = false;
    const closing = server;
    server = undefined;
    for (const pair of pairs) drop(pair);
    if (closing !== undefined) await new Promise((resolve) => closing.close(resolve));
  }

  function blackhole(): void {
    holding = true;
    for (const { client, upstream } of pairs) {
      if (upstream === undefined) continue;
      client.unpipe(upstream);
      upstream.unpipe(client);
      client.pause();
      upstream.pause();
    }
  }

  async function restore(): Promise<void> {
    if (server === undefined) {
      await listen();
      return;
    }
    if (!holding) return;
    holding = false;
    for (const pair of pairs) {
      if (pair.upstream === undefined) {
        connect(pair);
      } else {
        pair.client.pipe(pair.upstream).pipe(pair.client);
        pair.client.resume();
        pair.upstream.resume();
      }
    }
  }

  await listen();
  const release = trackResource('http server', `tcp proxy :${port}`);
  return {
    port,
    cut,
    blackhole,
    restore,
    async close() {
      await cut();
      release();
    },
  };
}
