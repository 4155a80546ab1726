/**
 * `readstates serve` as a real child process (as a supervisor would run it): its pid (to sample its CPU), its log
 * lines in memory (to assert on a fatal line), and a start that is allowed to fail (a service that must refuse to
 * start resolves `exited` instead of throwing; serviceProcess.ts's startService waits for /healthz). The output
 * is appended to .local/test-logs/<name>.log as well, for when a test fails.
 */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { trackResource } from './resources.ts';
import { waitFor } from './waitFor.ts';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

/**
 * The admin token every test service accepts (and the harness gives its CLI commands). Tests call /v1 without
 * one: services start with AUTH_DISABLED=true unless a test's env says otherwise.
 */
export const TEST_API_TOKEN = 'test-admin-token-0123456789';

/** A pino line as the service writes it (level 60 is fatal, 50 error, 40 warn). */
export interface LogLine {
  level: number;
  msg?: string;
  [field: string]: unknown;
}

export const FATAL = 60;

export interface SpawnedService {
  pid: number;
  url: string;
  logFile: string;
  /** Resolves with the exit code (null when a signal ended it). */
  exited: Promise<number | null>;
  /** The exit code once it has exited; undefined while it runs. */
  exitCode(): number | null | undefined;
  /** Every JSON line written so far (stdout and stderr); other text as `{ level: 0, msg }`. */
  lines(): LogLine[];
  /** Until /healthz answers 200; throws, quoting the last lines, if the process exits first. */
  healthy(timeoutMs?: number): Promise<void>;
  kill(signal: NodeJS.Signals): void;
  /** SIGTERM, then the exit code; SIGKILL after `timeoutMs`. */
  stop(timeoutMs?: number): Promise<number | null>;
}

export async function spawnService(
  name: string,
  env: Record<string, string>,
  port: number,
): Promise<SpawnedService> {
  await mkdir(`${repoRoot}.local/test-logs`, { recursive: true });
  const logFile = `${repoRoot}.local/test-logs/${name}.log`;
  const log = createWriteStream(logFile, { flags: 'a' });
  // As `npm start` runs it: scripts/serve.sh sets the allocator's tunables and execs node (the pid is node's).
  const child = spawn('bash', ['scripts/serve.sh'], {
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
  const pid = child.pid;
  if (pid === undefined) throw new Error(`readstates serve (${name}) did not start`);
  const release = trackResource('child process', `readstates serve (${name}, pid ${pid})`);
  const parsed: LogLine[] = [];
  for (const stream of [child.stdout, child.stderr]) {
    let rest = '';
    stream.on('data', (chunk: Buffer) => {
      log.write(chunk);
      const text = rest + chunk.toString('utf8');
      const complete = text.split('\n');
      rest = complete.pop() ?? '';
      for (const line of complete) if (line.trim() !== '') parsed.push(parseLine(line));
    });
  }
  let code: number | null | undefined = undefined;
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (exitCode) => {
      code = exitCode;
      release();
      resolve(exitCode);
    });
  });
  const url = `http://127.0.0.1:${port}`;
  const lastLines = () =>
    parsed
      .slice(-8)
      .map((line) => `  ${line.msg ?? JSON.stringify(line)}`)
      .join('\n');
  return {
    pid,
    url,
    logFile,
    exited,
    exitCode: () => code,
    lines: () => [...parsed],
    async healthy(timeoutMs = 60_000) {
      const outcome = await waitFor(
        async () => {
          if (code !== undefined) return 'exited';
          const response = await fetch(`${url}/healthz`).catch(() => undefined);
          return response?.ok === true ? 'up' : false;
        },
        timeoutMs,
        `${name} to answer /healthz (log: ${logFile})`,
      );
      if (outcome === 'exited')
        throw new Error(`${name} exited (code ${String(code)}) during start-up:\n${lastLines()}`);
    },
    kill(signal) {
      if (code === undefined) child.kill(signal);
    },
    async stop(timeoutMs = 30_000) {
      if (code !== undefined) return code;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const exitCode = await exited;
      clearTimeout(timer);
      return exitCode;
    },
  };
}

function parseLine(line: string): LogLine {
  try {
    const value = JSON.parse(line) as unknown;
    if (typeof value === 'object' && value !== null && typeof (value as LogLine).level === 'number')
      return value as LogLine;
  } catch {
    // Not pino's: Node's own warnings, a stack printed by a crash.
  }
  return { level: 0, msg: line };
}

/** Clock ticks per second of /proc/<pid>/stat's times: 100 on every Linux this runs on. */
const CLOCK_TICKS = 100;

/** CPU time (user + system, all threads) of `pid` in seconds, from /proc/<pid>/stat. */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces; fields count from after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** The process's CPU use over `ms`, in percent of one core (ps's %cpu, but over this window only). */
export async function cpuPercent(pid: number, ms: number): Promise<number> {
  const before = await cpuSeconds(pid);
  const started = performance.now();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const after = await cpuSeconds(pid);
  return ((after - before) / ((performance.now() - started) / 1000)) * 100;
}
