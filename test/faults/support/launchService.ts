/**
 * `readstates serve` as a child process, handed back the moment it is spawned (test/support/serviceProcess.ts
 * waits for /healthz first), so a signal can land anywhere in start-up. Output goes to
 * .local/test-logs/<name>.log like serviceProcess's; `logSinceSpawn()` reads only this run's part of it.
 */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { trackResource } from '../../support/resources.ts';
import { waitFor } from '../../support/waitFor.ts';

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** ms since the epoch */
  at: number;
}

export interface LaunchedService {
  pid: number;
  url: string;
  logFile: string;
  exited: Promise<Exit>;
  hasExited(): boolean;
  signal(signal: NodeJS.Signals): number;
  /** Until /healthz answers; false if the process exited first. */
  healthy(timeoutMs?: number): Promise<boolean>;
  /**
   * Until the process writes its first byte of output (its own code runs: a first log line), or exits first
   * (false). Node installs a native SIGTERM handler before any JavaScript runs, so /proc's signal masks cannot
   * tell when the service itself can see a signal; its output can.
   */
  firstOutput(timeoutMs?: number): Promise<boolean>;
  logSinceSpawn(): Promise<string>;
}

export async function launchService(
  name: string,
  env: Record<string, string>,
  port: number,
): Promise<LaunchedService> {
  await mkdir(`${repoRoot}.local/test-logs`, { recursive: true });
  const logFile = `${repoRoot}.local/test-logs/${name}.log`;
  const logStart = await stat(logFile).then(
    (s) => s.size,
    () => 0,
  );
  const log = createWriteStream(logFile, { flags: 'a' });
  const child = spawn(process.execPath, ['src/cli.ts', 'serve'], {
    cwd: repoRoot,
    env: { ...process.env, LOG_LEVEL: 'info', ...env, HTTP_HOST: '127.0.0.1', HTTP_PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.pipe(log, { end: false });
  child.stderr.pipe(log, { end: false });
  let output = false;
  const noteOutput = () => {
    output = true;
  };
  child.stdout.once('data', noteOutput);
  child.stderr.once('data', noteOutput);
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not spawn readstates serve (${name})`);
  const release = trackResource('child process', `readstates serve (${name})`);
  let done = false;
  const exited = new Promise<Exit>((resolve) => {
    child.once('exit', (code, signal) => {
      done = true;
      release();
      resolve({ code, signal, at: Date.now() });
    });
  });
  const url = `http://127.0.0.1:${port}`;

  return {
    pid,
    url,
    logFile,
    exited,
    hasExited: () => done,
    signal: (signal) => {
      child.kill(signal);
      return Date.now();
    },
    async healthy(timeoutMs = 60_000) {
      const outcome = await waitFor(
        async () => {
          if (done) return 'exited';
          const response = await fetch(`${url}/healthz`).catch(() => undefined);
          return response?.ok === true ? 'up' : false;
        },
        timeoutMs,
        `the service to answer /healthz (log: ${logFile})`,
      );
      return outcome === 'up';
    },
    async firstOutput(timeoutMs = 30_000) {
      const outcome = await waitFor(() => (done ? 'exited' : output ? 'output' : false), timeoutMs, 'output');
      return outcome === 'output';
    },
    async logSinceSpawn() {
      return (await readFile(logFile)).subarray(logStart).toString('utf8');
    },
  };
}
