/**
 * Open-loop load at a fixed rate, in its own process so that it does not share the server's event loop. Requests
 * are issued on schedule whether or not earlier ones have been answered (open loop: a server stall delays every
 * request issued during it, and all of them are counted, so no coordinated omission); latency runs from issuing
 * a request to the end of its response body, including any wait for a free connection. The generator's own
 * timer slack is not counted; how far it fell behind schedule is reported instead.
 *
 * Driven over IPC by queryBench.ts: it warms up (JIT, connections), says 'warmed', waits for 'go', measures.
 */
import { createHistogram } from 'node:perf_hooks';
import { Pool } from 'undici';

export type LoadRequest = {
  origin: string;
  paths: readonly string[];
  rate: number;
  warmupMs: number;
  durationMs: number;
  connections: number;
};

export type LoadResult = {
  sent: number;
  /** Due but never sent: MAX_IN_FLIGHT requests were already waiting for the server. */
  notSent: number;
  answered: number;
  /** Still unanswered DRAIN_MS after the end; their latencies count as the wait so far. */
  unanswered: number;
  failed: number;
  /** Requests per second answered 200 within the measured time and the drain after it. */
  achieved: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  /** The most any request was issued after it was due: the generator's own lag. */
  maxBehindMs: number;
};

/** Requests due in one wake-up at most; beyond it the generator is saturated and says so by falling behind. */
const MAX_BURST = 1_000;
/** Beyond this many in flight the server is not keeping up; stop adding to the pile (counted as not sent). */
const MAX_IN_FLIGHT = 20_000;
/** After the measured time, how long answers to requests already sent are still waited for. */
const DRAIN_MS = 5_000;

/**
 * Issues requests on schedule for `durationMs`, then waits up to DRAIN_MS for the answers. A request still
 * unanswered then counts with the time it has waited so far (a lower bound), so a stalled server cannot hide
 * behind requests that never finish; requests never sent because MAX_IN_FLIGHT were outstanding are counted.
 */
async function run(origin: string, request: LoadRequest, durationMs: number): Promise<LoadResult> {
  const { paths, rate, connections } = request;
  const pool = new Pool(origin, { connections, pipelining: 1, keepAliveTimeout: 60_000 });
  const latency = createHistogram({ lowest: 1, highest: 600e9, figures: 3 });
  const record = (issuedAt: number) => {
    latency.record(Math.max(1, Math.round((performance.now() - issuedAt) * 1e6)));
  };
  const outstanding = new Map<number, number>();
  let sent = 0;
  let answered = 0;
  let failed = 0;
  let maxBehindMs = 0;
  const started = performance.now();
  const end = started + durationMs;

  await new Promise<void>((resolve) => {
    const pump = () => {
      const now = performance.now();
      // At the end, exactly what the result counts as due (end − started may round below durationMs).
      const due =
        now >= end ? Math.floor((durationMs / 1000) * rate) : Math.floor(((now - started) / 1000) * rate);
      for (
        let burst = 0;
        sent < due && burst < MAX_BURST && outstanding.size < MAX_IN_FLIGHT;
        burst++, sent++
      ) {
        const id = sent;
        const issuedAt = performance.now();
        maxBehindMs = Math.max(maxBehindMs, issuedAt - (started + (id * 1000) / rate));
        outstanding.set(id, issuedAt);
        pool.request({ method: 'GET', path: paths[id % paths.length] ?? '/' }).then(
          async ({ statusCode, body }) => {
            await body.dump();
            if (!outstanding.delete(id)) return;
            if (statusCode === 200) {
              record(issuedAt);
              answered++;
            } else failed++;
          },
          () => {
            if (outstanding.delete(id)) failed++;
          },
        );
      }
      // Judged by the time this pump began: one that began before the end schedules another, which sends the rest.
      if (now < end) setTimeout(pump, 1);
      else resolve();
    };
    pump();
  });
  const due = Math.floor((durationMs / 1000) * rate);
  const drainUntil = performance.now() + DRAIN_MS;
  while (outstanding.size > 0 && performance.now() < drainUntil) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const unanswered = outstanding.size;
  for (const issuedAt of outstanding.values()) record(issuedAt);
  outstanding.clear();
  await pool.destroy();
  return {
    sent,
    notSent: due - sent,
    answered,
    unanswered,
    failed,
    achieved: answered / (durationMs / 1000),
    p50Ms: latency.percentile(50) / 1e6,
    p99Ms: latency.percentile(99) / 1e6,
    p999Ms: latency.percentile(99.9) / 1e6,
    maxMs: latency.max / 1e6,
    maxBehindMs,
  };
}

process.once('message', (request: LoadRequest) => {
  void run(request.origin, request, request.warmupMs).then(() => {
    process.send?.({ type: 'warmed' });
    process.once('message', () => {
      void run(request.origin, request, request.durationMs).then((result) => {
        process.send?.({ type: 'result', ...result });
        process.exit(0);
      });
    });
  });
});
