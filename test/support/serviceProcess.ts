import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { trackResource } from './resources.ts';
import { waitFor } from './waitFor.ts';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

export interface ServiceProcess {
  url: string;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  kill(signal: NodeJS.Signals): void;
  /** SIGTERM, then wait for the exit; SIGKILL after `timeoutMs`. */
  stop(timeoutMs?: number): Promise<number | null>;
  logFile: string;
}

/**
 * The admin token every test service accepts (and the harness gives its CLI commands). Tests call /v1 without
 * one: services start with AUTH_DISABLED=true unless a test's env says otherwise.
 */
export const TEST_API_TOKEN = 'test-admin-token-0123456789';

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/**
 * `readstates serve` as a real child process (as a supervisor would run it), its output appended to a log file
 * under .local/test-logs for when a test fails. Resolves once /healthz answers.
 */
export async function startService(
  name: string,
  env: Record<string, string>,
  port: number,
): Promise<ServiceProcess> {
  await mkdir(`${repoRoot}.local/test-logs`, { recursive: true });
  const logFile = `${repoRoot}.local/test-logs/${name}.log`;
  const log = createWriteStream(logFile, { flags: 'a' });
  const child: ChildProcess = spawn(process.execPath, ['src/cli.ts', 'serve'], {
    cwd: repoRoot,
    env: {
      ...process.env,
      LOG_LEVEL: 'info',
      AUTH_DISABLED: 'true',
      API_TOKENS: TEST_API_TOKEN,
      ...env,
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: String(port),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  const release = trackResource('child process', `readstates serve (${name})`);
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      release();
      resolve(code);
    });
  });
  let hasExited = false;
  void exited.then(() => {
    hasExited = true;
  });
  const url = `http://127.0.0.1:${port}`;
  const outcome = await waitFor(
    async () => {
      if (hasExited) return 'exited';
      const response = await fetch(`${url}/healthz`).catch(() => undefined);
      return response?.ok === true ? 'up' : false;
    },
    60_000,
    `the service to answer /healthz (log: ${logFile})`,
  );
  if (outcome === 'exited') throw new Error(`the service exited during start-up; see ${logFile}`);
  return {
    url,
    exited,
    logFile,
    kill: (signal) => {
      child.kill(signal);
    },
    async stop(timeoutMs = 30_000) {
      if (hasExited) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}
