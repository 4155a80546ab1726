import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { trackResource } from './resources.ts';

/**
 * A TCP proxy in front of a real server, to simulate its outage without stopping it for everyone else:
 * `cut()` drops every connection and refuses new ones; `restore()` listens again on the same port.
 */
export async function startTcpProxy(target: { host: string; port: number }) {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;

  async function listen(): Promise<void> {
    const next = createServer((client) => {
      const upstream = createConnection(target);
      sockets.add(client).add(upstream);
      const drop = () => {
        client.destroy();
        upstream.destroy();
        sockets.delete(client);
        sockets.delete(upstream);
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => next.listen(port, '127.0.0.1', resolve));
    const address = next.address();
    if (address !== null && typeof address !== 'string') port = address.port;
    server = next;
  }

  async function cut(): Promise<void> {
    const closing = server;
    server = undefined;
    for (const socket of sockets) socket.destroy();
    sockets.clear();
    if (closing !== undefined) await new Promise((resolve) => closing.close(resolve));
  }

  await listen();
  const release = trackResource('http server', `tcp proxy :${port}`);
  return {
    port,
    cut,
    restore: listen,
    async close() {
      await cut();
      release();
    },
  };
}
