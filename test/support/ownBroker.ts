/**
 * A Kafka broker of one test file's own, for faults that kill the broker: the shared one (9092, used by every
 * other test file at the same time) must never be killed. Started with deploy/local-kafka/kafka-up.sh on free
 * ports with its own data directory under .local/fault-kafka/<name>; `kill9()` kills it as a crash would
 * (SIGKILL, no shutdown), `restart()` starts it again through the same script on the same ports and data, so
 * every topic and committed offset is still there; `stop()` stops it and deletes its data.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort } from './serviceProcess.ts';
import { waitFor } from './waitFor.ts';

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const SHARED_PORT = Number(process.env.KAFKA_PORT ?? 9092);

export interface OwnBroker {
  brokers: string[];
  port: number;
  dataDir: string;
  /** The broker's pid while it runs. */
  pid(): Promise<number | undefined>;
  /** SIGKILL, as a crash or the OOM killer would; resolves once the process is gone. */
  kill9(): Promise<void>;
  /** Starts it again (kafka-up.sh) on the same ports and data; resolves once it answers. */
  restart(): Promise<void>;
  /** Stops it (kafka-down.sh) and deletes its data directory. */
  stop(): Promise<void>;
}

export async function startOwnBroker(name: string): Promise<OwnBroker> {
  const dataDir = `${repoRoot}.local/fault-kafka/${name}`;
  const port = await freePort();
  let controllerPort = await freePort();
  while (controllerPort === port) controllerPort = await freePort();
  if (port === SHARED_PORT || controllerPort === SHARED_PORT)
    throw new Error('refusing the shared broker port');
  const env = {
    ...process.env,
    KAFKA_PORT: String(port),
    KAFKA_CONTROLLER_PORT: String(controllerPort),
    KAFKA_DATA_DIR: dataDir,
    // Shared 2-core machines: half the development broker's heap is plenty for a test's few topics.
    KAFKA_HEAP_OPTS: '-Xms256m -Xmx512m',
  };
  const script = (file: string, args: string[] = []) =>
    run('bash', [`${repoRoot}deploy/local-kafka/${file}`, ...args], { env, timeout: 180_000 });

  // A broker left running by an earlier, interrupted run of this file: stop it and start from nothing.
  await script('kafka-down.sh', ['--purge']).catch(() => undefined);
  await script('kafka-up.sh');

  async function pid(): Promise<number | undefined> {
    const text = await readFile(`${dataDir}/kafka.pid`, 'utf8').catch(() => '');
    const value = Number(text.trim());
    if (!Number.isInteger(value) || value <= 0) return undefined;
    // Only a live process running this data directory's broker (pids are reused).
    const args = await readFile(`/proc/${value}/cmdline`, 'utf8').catch(() => '');
    return args.includes(`${dataDir}/server.properties`) ? value : undefined;
  }

  return {
    brokers: [`127.0.0.1:${port}`],
    port,
    dataDir,
    pid,
    async kill9() {
      const target = await pid();
      if (target === undefined) throw new Error(`no broker of ${dataDir} is running`);
      process.kill(target, 'SIGKILL');
      // Gone, or a zombie waiting for a parent that is not us to reap it.
      await waitFor(
        async () => !/^State:\s*[^Z]/m.test(await readFile(`/proc/${target}/status`, 'utf8').catch(() => '')),
        30_000,
        `broker pid ${target} to die`,
      );
    },
    async restart() {
      await script('kafka-up.sh');
    },
    async stop() {
      await script('kafka-down.sh', ['--purge']);
    },
  };
}
