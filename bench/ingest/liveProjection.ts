/**
 * The live projector as users run it: `node src/cli.ts serve` with environment variables (fsync on every write,
 * hot tier mirrored, dead letters to PostgreSQL), started on topics that already hold the backlog. Its progress
 * is read from its own /metrics: events applied plus dead letters stored, until they reach the backlog.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** How users start the service (`npm start`): node's flags go to it as arguments. */
const SERVE = fileURLToPath(new URL('../../scripts/serve.sh', import.meta.url));
const POLL_MS = 50;

export type LiveService = {
  readonly url: string;
  readonly child: ChildProcess;
  /** Events applied plus dead letters stored, from /metrics; undefined while it does not answer. */
  handled(): Promise<number | undefined>;
  /** Resident set size of the service process, MiB. */
  rssMiB(): Promise<number>;
  /** Pauses per thread since the last call (needs `traceGc`), the longest-pausing threads first. */
  takeGcPauses(): GcPauses[];
  /** Where its memory goes, from /metrics, MiB: the engine's V8 heap, the main thread's, the hot tier's tables. */
  memoryMiB(): Promise<{ engineHeap: number; mainHeap: number; hotTier: number }>;
  stop(): Promise<void>;
};

/** Garbage-collection pauses of one V8 isolate (a thread) since the last reset, from --trace-gc. */
export type GcPauses = {
  isolate: string;
  pauses: number;
  totalMs: number;
  maxMs: number;
  maxKind: string;
  /** Pause time by kind (Scavenge, Mark-Compact, …). */
  msByKind: Record<string, number>;
};

/** `[pid:0xISOLATE]  1234 ms: Scavenge 45.2 (60.1) -> 40.3 (62.1) MB, pooled: 0 MB, 3.21 / 0.00 ms ...` */
const GC_LINE =
  /^\[\d+:(0x[0-9a-f]+)\]\s+\d+ ms: ([A-Za-z-]+(?: [A-Za-z-]+)?) .*?MB, (?:pooled: [\d.]+ MB, )?([\d.]+) \/ [\d.]+ ms/;

export type LiveResult = {
  events: number;
  /** From spawn to the last event handled: start-up, group join and projection. */
  seconds: number;
  /**
   * From the last poll that saw nothing handled yet (start-up and group join behind it) to the last event:
   * projection alone, give or take one poll (50 ms), so that a phase done within one poll still has a rate.
   */
  projectingSeconds: number;
  /** Events handled in that time. */
  projectingEvents: number;
};

/** The sum of a metric's samples in Prometheus text (every label set). */
export function metric(text: string, name: string): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) total += Number(line.split(' ').at(-1));
  }
  return total;
}

export function startLiveService(
  env: Record<string, string>,
  port: number,
  options: { cpuProfileDir?: string; traceGc?: boolean } = {},
): LiveService {
  const profile =
    options.cpuProfileDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', options.cpuProfileDir];
  const traceGc = options.traceGc === true ? ['--trace-gc'] : [];
  const child = spawn('bash', [SERVE, ...profile, ...traceGc], {
    env: { ...process.env, ...env, HTTP_HOST: '127.0.0.1', HTTP_PORT: String(port), AUTH_DISABLED: 'true' },
    // stdout carries only V8's --trace-gc lines: the service logs to stderr.
    stdio: ['ignore', options.traceGc === true ? 'pipe' : 'ignore', 'inherit'],
  });
  let gc = new Map<string, GcPauses>();
  if (child.stdout !== null) {
    createInterface({ input: child.stdout }).on('line', (line) => {
      const match = GC_LINE.exec(line);
      if (match === null) return;
      const [, isolate = '?', kind = '?', ms = '0'] = match;
      const pause = Number(ms);
      const seen = gc.get(isolate) ?? { isolate, pauses: 0, totalMs: 0, maxMs: 0, maxKind: '', msByKind: {} };
      seen.pauses++;
      seen.totalMs += pause;
      seen.msByKind[kind] = (seen.msByKind[kind] ?? 0) + pause;
      if (pause > seen.maxMs) {
        seen.maxMs = pause;
        seen.maxKind = kind;
      }
      gc.set(isolate, seen);
    });
  }
  const url = `http://127.0.0.1:${port}`;
  const exited = once(child, 'exit');
  return {
    url,
    child,
    async handled() {
      try {
        const text = await (await fetch(`${url}/metrics`)).text();
        return (
          metric(text, 'readstates_events_applied_total') + metric(text, 'readstates_dead_letters_total')
        );
      } catch {
        return undefined;
      }
    },
    async rssMiB() {
      const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
      const kib = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
      return kib / 1024;
    },
    takeGcPauses() {
      const taken = [...gc.values()].sort((a, b) => b.maxMs - a.maxMs);
      gc = new Map();
      return taken;
    },
    async memoryMiB() {
      const text = await (await fetch(`${url}/metrics`)).text();
      const mib = (name: string) => metric(text, name) / 2 ** 20;
      return {
        engineHeap: mib('readstates_engine_heap_used_bytes'),
        mainHeap: mib('nodejs_heap_size_used_bytes'),
        hotTier: mib('readstates_hot_tier_bytes'),
      };
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Waits until the service has handled `events`, and times it. */
export async function projectLive(
  service: LiveService,
  events: number,
  options: { signal?: AbortSignal; onProgress?: (handled: number) => void } = {},
): Promise<LiveResult> {
  const started = performance.now();
  /** The last poll before anything was handled. */
  let idle = { at: started, handled: 0 };
  for (;;) {
    options.signal?.throwIfAborted();
    if (service.child.exitCode !== null) throw new Error(`the service exited with ${service.child.exitCode}`);
    const polled = performance.now();
    const handled = (await service.handled()) ?? 0;
    if (handled === 0) idle = { at: polled, handled };
    options.onProgress?.(handled);
    if (handled >= events) {
      const now = performance.now();
      return {
        events,
        seconds: (now - started) / 1000,
        projectingSeconds: (now - idle.at) / 1000,
        projectingEvents: events - idle.handled,
      };
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}
