#!/usr/bin/env node
/** `readstates <command>`: the one entry point for operators. */
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from './config.ts';
import { createDatabasePool } from './ops/database.ts';
import { createKafka } from './ingest/createKafka.ts';
import { createLogger } from './logger.ts';
import { listDeadLetters } from './ops/deadLetters.ts';
import { publishDemo } from './ops/publishDemo.ts';
import { formatStatus, readStatus } from './ops/status.ts';
import { migrate } from './ops/migrate.ts';

/** A mistake in how the command was called: shown with the usage, exit code 2. */
class UsageError extends Error {}

const usage = `Usage: readstates <command>

Commands:
  serve      run the projector and the HTTP API (configured by environment variables; see README.md)
  migrate    apply database migrations and exit
  status [--json]
             per partition: stored offset, high watermark and lag
  publish-demo [--count N] [--rate N] [--seed N] [--channels N] [--users N]
             publish a realistic random stream (for demos and benchmarks)
  dead-letters list [--limit N] [--json]
             the newest records the projector could not apply (--json: one JSON object a line)
`;

const commands: Record<string, (args: string[]) => Promise<void>> = {
  async serve() {
    const { serve } = await import('./main.ts');
    await serve(loadConfig());
  },
  async status(args) {
    const { values } = parseArgs({ args, options: { json: { type: 'boolean', default: false } } });
    const config = loadConfig();
    const admin = createKafka(config, createLogger('warn')).admin();
    await admin.connect();
    try {
      const topics = { messages: config.TOPIC_MESSAGES, acks: config.TOPIC_ACKS };
      const status = await readStatus(admin, topics, config.KAFKA_GROUP_ID, config.DATA_DIR);
      process.stdout.write(values.json ? `${JSON.stringify(status)}\n` : `${formatStatus(status)}\n`);
    } finally {
      await admin.disconnect();
    }
  },
  async 'publish-demo'(args) {
    const { values } = parseArgs({
      args,
      options: {
        count: { type: 'string', default: '100000' },
        rate: { type: 'string', default: '1000' },
        batch: { type: 'string', default: '500' },
        seed: { type: 'string', default: '1' },
        channels: { type: 'string', default: '1000' },
        users: { type: 'string', default: '10000' },
      },
    });
    const number = (name: keyof typeof values) => {
      const value = Number(values[name]);
      if (!Number.isInteger(value) || value < 1)
        throw new UsageError(`--${name} must be a whole number from 1 up`);
      return value;
    };
    const config = loadConfig();
    await publishDemo(
      createKafka(config, createLogger('warn')),
      { messages: config.TOPIC_MESSAGES, acks: config.TOPIC_ACKS },
      {
        count: number('count'),
        rate: number('rate'),
        batch: number('batch'),
        seed: number('seed'),
        channels: number('channels'),
        users: number('users'),
      },
    );
  },
  async 'dead-letters'(args) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { limit: { type: 'string', default: '50' }, json: { type: 'boolean', default: false } },
    });
    if (positionals[0] !== 'list')
      throw new UsageError('usage: readstates dead-letters list [--limit N] [--json]');
    const limit = Number(values.limit);
    if (!Number.isInteger(limit) || limit < 1)
      throw new UsageError('--limit must be a whole number from 1 up');
    const pool = createDatabasePool(loadConfig().DATABASE_URL);
    try {
      const letters = await listDeadLetters(pool, { limit });
      for (const letter of letters) {
        if (values.json) {
          process.stdout.write(
            `${JSON.stringify({
              id: letter.id,
              topic: letter.topic,
              partition: letter.partition,
              offset: letter.offset,
              code: letter.code,
              message: letter.message,
              received_at: letter.receivedAt.toISOString(),
              key: letter.key?.toString('utf8') ?? null,
              value_bytes: letter.value?.length ?? 0,
            })}\n`,
          );
        } else {
          process.stdout.write(
            `${letter.receivedAt.toISOString()}  ${letter.topic}/${letter.partition}@${letter.offset}  ${letter.code}: ${letter.message}\n`,
          );
        }
      }
      if (!values.json && letters.length === 0) process.stdout.write('no dead letters\n');
    } finally {
      await pool.dispose();
    }
  },
  async migrate() {
    const pool = createDatabasePool(loadConfig().DATABASE_URL);
    try {
      await migrate(pool);
      console.log('migrations applied');
    } finally {
      await pool.dispose();
    }
  },
};

async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  const command = name === undefined ? undefined : commands[name];
  if (command === undefined) {
    process.stderr.write(
      name === undefined || name === 'help' ? usage : `Unknown command "${name}".\n\n${usage}`,
    );
    process.exitCode = name === undefined || name === 'help' ? 0 : 2;
    return;
  }
  await command(rest);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof ConfigError || error instanceof UsageError) {
    process.stderr.write(`${error.message}\n`);
    process.exitCode = 2;
  } else {
    process.stderr.write(
      `readstates: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = 1;
  }
});
