/**
 * The composition root: load config, build the parts with their dependencies, start them in order, stop them in
 * reverse on SIGTERM/SIGINT.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { buildApp } from './api/app.ts';
import type { Config } from './config.ts';
import { createLogger } from './logger.ts';
import { createDatabasePool } from './ops/database.ts';
import { migrate } from './ops/migrate.ts';
import { openRocksDatabase } from './store/rocksDatabase.ts';

/** How long shutdown may take before the process exits anyway; Kubernetes' grace period must be longer. */
export const SHUTDOWN_TIMEOUT_MS = 25_000;

export async function serve(config: Config): Promise<void> {
  const logger = createLogger(config.LOG_LEVEL);
  const stops: { name: string; stop: () => Promise<void> }[] = [];

  const shutdown = async (signal: string): Promise<void> => {
    logger.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      logger.error({ timeoutMs: SHUTDOWN_TIMEOUT_MS }, 'shutdown took too long; exiting');
      process.exit(1);
    }, SHUTDOWN_TIMEOUT_MS);
    timer.unref();
    for (const { name, stop } of stops.reverse()) {
      try {
        await stop();
      } catch (error) {
        logger.error({ err: error, part: name }, 'error while stopping');
      }
    }
    logger.info('stopped');
    process.exit(0);
  };
  process.once('SIGTERM', (signal) => void shutdown(signal));
  process.once('SIGINT', (signal) => void shutdown(signal));

  const pool = createDatabasePool(config.DATABASE_URL);
  stops.push({ name: 'postgres', stop: () => pool.dispose() });
  await migrate(pool);
  logger.info('migrations applied');

  await mkdir(config.DATA_DIR, { recursive: true });
  const rocks = await openRocksDatabase(join(config.DATA_DIR, 'state'));
  stops.push({ name: 'rocksdb', stop: () => rocks.close() });

  const app = buildApp({ logger, notReadyReason: () => undefined });
  stops.push({ name: 'http', stop: () => app.close() });
  await app.listen({ host: config.HTTP_HOST, port: config.HTTP_PORT });
}
