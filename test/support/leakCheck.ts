/**
 * Fails a test that leaks a Kafka client, HTTP server, database pool or child process. Two nets: the helpers'
 * ledger (names what leaked) and Node's own list of live TCP handles (catches clients made without a helper).
 * Resources opened in beforeAll are part of the baseline and must be closed in afterAll.
 */
import { afterEach, beforeEach } from 'vitest';
import { openResources } from './resources.ts';

let baseline = { ledger: new Set<object>(), tcp: 0 };

function liveTcpHandles(): number {
  return process
    .getActiveResourcesInfo()
    .filter((kind) => kind === 'TCPSocketWrap' || kind === 'TCPServerWrap').length;
}

beforeEach(() => {
  baseline = { ledger: new Set(openResources()), tcp: liveTcpHandles() };
});

afterEach(async () => {
  const leaked = openResources().filter((resource) => !baseline.ledger.has(resource));
  if (leaked.length > 0) {
    throw new Error(
      `This test left open: ${leaked.map((r) => `${r.kind} "${r.name}"`).join(', ')}. Close it in the test or afterEach.`,
    );
  }
  // Sockets close asynchronously after disconnect(); give them a moment before calling it a leak.
  const deadline = Date.now() + 3_000;
  while (liveTcpHandles() > baseline.tcp && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const extra = liveTcpHandles() - baseline.tcp;
  if (extra > 0) {
    throw new Error(
      `This test left ${extra} TCP socket(s) or server(s) open: a Kafka client not disconnected, an HTTP server ` +
        'not closed or a database pool not disposed.',
    );
  }
});
