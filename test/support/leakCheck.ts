/**
 * Fails a test that leaks a Kafka client, HTTP server, database pool or child process. Two nets:
 * - after each test, the helpers' ledger (names what leaked) and Node's list of listening servers;
 * - after each file, Node's list of live TCP handles, back to what it was before the file (catches clients made
 *   without a helper). Per-file resources (beforeAll) may hold sockets during tests, so sockets are counted
 *   per file, not per test.
 */
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { openResources } from './resources.ts';

function liveHandles(kind: 'TCPSocketWrap' | 'TCPServerWrap'): number {
  return process.getActiveResourcesInfo().filter((k) => k === kind).length;
}

/** Handles close asynchronously after disconnect(); give them a moment before calling it a leak. */
async function settle(count: () => number, baseline: number): Promise<number> {
  const deadline = Date.now() + 3_000;
  while (count() > baseline && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return count() - baseline;
}

let fileSockets = 0;
let testBaseline = { ledger: new Set<object>(), servers: 0 };

beforeAll(() => {
  fileSockets = liveHandles('TCPSocketWrap');
});

beforeEach(() => {
  testBaseline = { ledger: new Set(openResources()), servers: liveHandles('TCPServerWrap') };
});

afterEach(async () => {
  const leaked = openResources().filter((resource) => !testBaseline.ledger.has(resource));
  if (leaked.length > 0) {
    throw new Error(
      `This test left open: ${leaked.map((r) => `${r.kind} "${r.name}"`).join(', ')}. Close it in the test or afterEach.`,
    );
  }
  const servers = await settle(() => liveHandles('TCPServerWrap'), testBaseline.servers);
  if (servers > 0)
    throw new Error(`This test left ${servers} listening server(s) open: close the HTTP server.`);
});

afterAll(async () => {
  const leaked = openResources();
  if (leaked.length > 0) {
    throw new Error(`This file left open: ${leaked.map((r) => `${r.kind} "${r.name}"`).join(', ')}.`);
  }
  const sockets = await settle(() => liveHandles('TCPSocketWrap'), fileSockets);
  if (sockets > 0) {
    throw new Error(
      `This file left ${sockets} TCP socket(s) open: a Kafka client not disconnected or a database pool not disposed.`,
    );
  }
});
