/**
 * The mechanics of the crash tests (test/crash.e2e.spec.ts, CI's 20 kills; test/soak/soak.ts, 100 or more):
 * start the service, publish while it starts, wait until it has joined its group, SIGKILL it after a random
 * delay, and count the kills that landed after it had applied events. No vitest here, so the soak runs as a
 * plain Node script; the caller asserts on what comes back.
 */
import { startService } from './serviceProcess.ts';
import { waitFor } from './waitFor.ts';

export interface CrashLoopOptions {
  /** Names the service's log file (.local/test-logs/<name>.log). */
  name: string;
  env: Record<string, string>;
  port: number;
  kills: number;
  /** Publishes one cycle's events; called right after each start, while the service joins its group. */
  publish: () => Promise<void>;
  /** Records the service has durably applied so far (its committed offsets). */
  appliedSoFar: () => Promise<bigint>;
  /** Each kill lands this long at most after the service joined (default 1500 ms). */
  maxDelayMs?: number;
  /** For the delays; Math.random unless a seeded generator is given (in [0, 1)). */
  random?: () => number;
  /** Told after each kill, for progress output; awaited. */
  onKill?: (cycle: CrashCycle) => void | Promise<void>;
}

export interface CrashCycle {
  kill: number;
  delayMs: number;
  /** The exit code: null when the SIGKILL ended the process, as it must. */
  exitCode: number | null;
  /** The service applied events during this cycle. */
  applied: boolean;
}

export interface CrashLoopResult {
  cycles: CrashCycle[];
  /** Cycles in which the service applied events before it was killed. */
  cyclesThatApplied: number;
  /** Cycles that ended some other way than by the SIGKILL (the process had exited on its own). */
  unexpectedExits: CrashCycle[];
}

/** Until /readyz stops saying the service is starting: it has joined its consumer group. */
export async function waitUntilJoined(url: string, timeoutMs = 60_000): Promise<void> {
  await waitFor(
    async () => {
      const body = (await (await fetch(`${url}/readyz`)).json()) as { reason?: string };
      return body.reason?.startsWith('starting') !== true;
    },
    timeoutMs,
    'the service to join its consumer group',
  );
}

export async function crashLoop(options: CrashLoopOptions): Promise<CrashLoopResult> {
  const random = options.random ?? Math.random;
  const maxDelayMs = options.maxDelayMs ?? 1_500;
  const cycles: CrashCycle[] = [];
  for (let kill = 1; kill <= options.kills; kill++) {
    const before = await options.appliedSoFar();
    const service = await startService(options.name, options.env, options.port);
    // Events arrive while the service starts; it must have joined its group before a kill can hit a batch.
    await options.publish();
    await waitUntilJoined(service.url);
    const delayMs = Math.floor(random() * maxDelayMs);
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    service.kill('SIGKILL');
    const exitCode = await service.exited;
    const cycle = { kill, delayMs, exitCode, applied: (await options.appliedSoFar()) > before };
    cycles.push(cycle);
    await options.onKill?.(cycle);
  }
  return {
    cycles,
    cyclesThatApplied: cycles.filter((cycle) => cycle.applied).length,
    unexpectedExits: cycles.filter((cycle) => cycle.exitCode !== null),
  };
}
