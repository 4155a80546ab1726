import { hostname } from 'node:os';
import { Presets, SingleBar } from 'cli-progress';
import type { Config } from '../config.ts';
import { createKafka } from '../ingest/createKafka.ts';
import type { Logger } from '../logger.ts';
import { currentGeneration, removeOtherGenerations } from '../store/generations.ts';
import { lockDataDir } from '../store/dataDirLock.ts';
import { createDatabasePool } from './database.ts';
import { migrate } from './migrate.ts';
import { runRebuild, type RebuildProgress } from './rebuild.ts';
import { closeUnfinishedRebuilds, recordRebuildRequested } from './rebuilds.ts';

const POLL_MS = 1_000;
const LOG_EVERY_MS = 5_000;

/** A progress bar on a terminal, a plain line every few seconds otherwise (logs, CI). */
export function progressDisplay(): { show(progress: RebuildProgress): void; stop(): void } {
  const interactive = process.stderr.isTTY;
  const bar = new SingleBar(
    {
      format:
        'rebuild {id} {status} [{bar}] {percentage}% | {value} events | {rate} events/s | lag {lag} | ETA {etaText}',
    },
    Presets.shades_classic,
  );
  let started = false;
  let lastLine = 0;
  return {
    show(progress) {
      const total = progress.eventsApplied + progress.lag;
      const fields = {
        id: progress.id,
        status: progress.status,
        rate: Math.round(progress.eventsPerSecond),
        lag: progress.lag,
        etaText: progress.etaSeconds === null ? '–' : `${Math.ceil(progress.etaSeconds)}s`,
      };
      if (interactive) {
        if (!started) bar.start(Math.max(total, 1), progress.eventsApplied, fields);
        started = true;
        bar.setTotal(Math.max(total, 1));
        bar.update(progress.eventsApplied, fields);
      } else if (performance.now() - lastLine > LOG_EVERY_MS || progress.status !== 'running') {
        lastLine = performance.now();
        process.stderr.write(
          `rebuild ${progress.id} ${progress.status}: ${progress.eventsApplied} events applied, ${fields.rate} events/s, lag ${progress.lag}, ETA ${fields.etaText}\n`,
        );
      }
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

function describe(progress: RebuildProgress): string {
  return progress.status === 'succeeded'
    ? `rebuild ${progress.id} succeeded: ${progress.eventsApplied} events applied; generation ${progress.generation} is current`
    : `rebuild ${progress.id} failed: ${progress.error ?? 'unknown error'}; the previous generation is still current`;
}

/**
 * `readstates rebuild --offline`: with the service stopped (a new node, a lost disk), replay the topics into a new
 * generation and make it current. Refuses while a service holds the current generation.
 */
export async function rebuildOffline(config: Config, logger: Logger): Promise<RebuildProgress> {
  const lock = await lockDataDir(config.DATA_DIR).catch((error: unknown) => {
    throw new Error(
      `${(error as Error).message} Is the service running? Stop it, or run \`readstates rebuild\` without --offline to rebuild while it serves.`,
      { cause: error },
    );
  });
  const generation = await currentGeneration(config.DATA_DIR).catch(async (error: unknown) => {
    await lock.release();
    throw error;
  });
  const pool = createDatabasePool(config.DATABASE_URL);
  const display = progressDisplay();
  try {
    await migrate(pool);
    await closeUnfinishedRebuilds(pool, hostname(), generation);
    await removeOtherGenerations(config.DATA_DIR, generation);
    const id = await recordRebuildRequested(pool, 'offline', hostname());
    return await runRebuild({
      id,
      kafka: createKafka(config, logger),
      groupId: config.KAFKA_GROUP_ID,
      sessionTimeoutMs: config.KAFKA_SESSION_TIMEOUT_MS,
      topics: { messages: config.TOPIC_MESSAGES, acks: config.TOPIC_ACKS },
      dataDir: config.DATA_DIR,
      pool,
      logger,
      residentRecords: config.RESIDENT_RECORDS,
      snowflakeEpochMs: config.SNOWFLAKE_EPOCH_MS,
      config,
      threads: config.REBUILD_THREADS,
      onProgress: (progress) => {
        display.show(progress);
      },
    });
  } finally {
    display.stop();
    await pool.dispose();
    await lock.release();
  }
}

/** `readstates rebuild`: asks the running service to rebuild (POST /admin/rebuilds) and follows its progress. */
export async function rebuildOnline(baseUrl: string, token: string | undefined): Promise<RebuildProgress> {
  const headers: Record<string, string> = token === undefined ? {} : { authorization: `Bearer ${token}` };
  const response = await fetch(`${baseUrl}/admin/rebuilds`, { method: 'POST', headers }).catch(
    (error: unknown) => {
      throw new Error(
        `cannot reach the service at ${baseUrl} (${(error as Error).message}); is it running? Use --url, or --offline when it is stopped`,
      );
    },
  );
  const body = (await response.json()) as { rebuild?: { id: string }; error?: { message: string } };
  if (response.status !== 202 || body.rebuild === undefined) {
    throw new Error(
      `the service refused the rebuild (${response.status}): ${body.error?.message ?? 'no reason given'}`,
    );
  }
  const { id } = body.rebuild;
  const display = progressDisplay();
  try {
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      const current = await fetch(`${baseUrl}/admin/rebuilds/current`, { headers });
      if (current.status !== 200) continue;
      const { rebuild } = (await current.json()) as { rebuild: RebuildProgress };
      if (rebuild.id !== id) continue;
      display.show(rebuild);
      if (rebuild.status === 'succeeded' || rebuild.status === 'failed') return rebuild;
    }
  } finally {
    display.stop();
  }
}

export { describe as describeRebuild };
