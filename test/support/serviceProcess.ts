import { createServer } from 'node:net';
import { spawnService } from './spawnService.ts';

export interface ServiceProcess {
  url: string;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  kill(signal: NodeJS.Signals): void;
  /** SIGTERM, then wait for the exit; SIGKILL after `timeoutMs`. */
  stop(timeoutMs?: number): Promise<number | null>;
  logFile: string;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** `readstates serve` as a child process (spawnService.ts), once /healthz answers; throws if it exits first. */
export async function startService(
  name: string,
  env: Record<string, string>,
  port: number,
): Promise<ServiceProcess> {
  const service = await spawnService(name, env, port);
  await service.healthy();
  return service;
}
