/** `readstates <command>`: the commands behind src/cli.ts, one entry point for operators. */
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from './config.ts';
import { createDatabasePool } from './ops/database.ts';
import { createKafka } from './ingest/createKafka.ts';
import { createLogger } from './logger.ts';
import { printableText } from './ingest/deadLetter.ts';
import { listDeadLetters, readableHeaders } from './ops/deadLetters.ts';
import { publishDemo } from './ops/publishDemo.ts';
import { formatCluster, formatRebuilds, formatStatus, readCluster, readStatus } from './ops/status.ts';
import { listRebuilds } from './ops/rebuilds.ts';
import { migrate } from './ops/migrate.ts';

/** A mistake in how the command was called: shown with the usage, exit code 2. */
class UsageError extends Error {}

const usage = `Usage: readstates <command>

Commands:
  serve      run the projector and the HTTP API (configured by environment variables; see README.md)
  migrate    apply database migrations and exit
  status [--json]
             per partition: stored offset, high watermark and lag; owners, hand-overs and restores (asked of the
             service on this machine, http://127.0.0.1:$HTTP_PORT/v1/cluster); the latest rebuilds
  publish-demo [--count N] [--rate N] [--seed N] [--channels N] [--users N]
             publish a realistic random stream (for demos and benchmarks)
  dead-letters list [--limit N] [--json]
             the newest records the projector could not apply (--json: one JSON object a line)
  rebuild [--url URL] [--token T] | --offline
             replay the topics into a new generation of state and switch to it: while the service runs
             (asks it at --url, default http://127.0.0.1:$HTTP_PORT, with --token or the first of API_TOKENS),
             or with it stopped (--offline: a new node, a lost disk); shows progress, exit 1 on failure
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
      const pool = createDatabasePool(config.DATABASE_URL);
      // Best effort: the offsets above matter more than the rebuild history, and need no PostgreSQL.
      const rebuilds = await listRebuilds(pool, { limit: 5 })
        .catch((error: unknown) => error as Error)
        .finally(() => pool.dispose());
      // The running service's own view, when it answers here: owners, hand-overs and restores in progress.
      const cluster = await readCluster(`http://127.0.0.1:${config.HTTP_PORT}`, config.API_TOKENS?.[0]);
      process.stdout.write(
        values.json
          ? `${JSON.stringify({ ...status, cluster: cluster ?? null, rebuilds: rebuilds instanceof Error ? null : rebuilds })}\n`
          : `${formatStatus(status)}\n\n${cluster === undefined ? 'cluster: the service does not answer on this machine' : formatCluster(cluster)}\n\n${formatRebuilds(rebuilds)}\n`,
      );
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
      const base64 = (bytes: Buffer | null): string | null => bytes?.toString('base64') ?? null;
      for (const letter of letters) {
        if (values.json) {
          // The raw bytes, base64, so a script gets back exactly what Kafka delivered.
          process.stdout.write(
            `${JSON.stringify({
              id: letter.id,
              topic: letter.topic,
              partition: letter.partition,
              offset: letter.offset,
              code: letter.code,
              message: letter.message,
              received_at: letter.receivedAt.toISOString(),
              key_base64: base64(letter.key),
              value_base64: base64(letter.value),
              value_bytes: letter.value?.length ?? 0,
              headers: letter.headers.map((h) => ({
                name_base64: base64(h.name),
                value_base64: base64(h.value),
              })),
            })}\n`,
          );
        } else {
          // Rows stored before messages were made printable may still hold control characters.
          const headers = letter.headers.length > 0 ? `  headers: ${readableHeaders(letter.headers)}` : '';
          process.stdout.write(
            `${letter.receivedAt.toISOString()}  ${letter.topic}/${letter.partition}@${letter.offset}  ${letter.code}: ${printableText(letter.message)}${headers}\n`,
          );
        }
      }
      if (!values.json && letters.length === 0) process.stdout.write('no dead letters\n');
    } finally {
      await pool.dispose();
    }
  },
  async rebuild(args) {
    const { values } = parseArgs({
      args,
      options: {
        offline: { type: 'boolean', default: false },
        url: { type: 'string' },
        token: { type: 'string' },
      },
    });
    const config = loadConfig();
    if (values.offline && (values.url !== undefined || values.token !== undefined)) {
      throw new UsageError('--offline rebuilds here, with the service stopped: it takes no --url or --token');
    }
    const { describeRebuild, rebuildOffline, rebuildOnline } = await import('./ops/rebuildCommand.ts');
    const result = values.offline
      ? await rebuildOffline(config, createLogger(config.LOG_LEVEL === 'info' ? 'warn' : config.LOG_LEVEL))
      : await rebuildOnline(
          values.url ?? `http://127.0.0.1:${config.HTTP_PORT}`,
          values.token ?? config.API_TOKENS?.[0],
        );
    process.stdout.write(`${describeRebuild(result)}\n`);
    if (result.status !== 'succeeded') process.exitCode = 1;
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
  const asksForHelp = (arg: string) => arg === 'help' || arg === '--help' || arg === '-h';
  if (command === undefined || rest.some(asksForHelp)) {
    const help = name === undefined || asksForHelp(name) || command !== undefined;
    process.stderr.write(help ? usage : `Unknown command "${name}".\n\n${usage}`);
    process.exitCode = help ? 0 : 2;
    return;
  }
  try {
    await command(rest);
  } catch (error) {
    // node:util parseArgs: an unknown option or a missing value is a usage mistake, not a crash.
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_')) {
      throw new UsageError(`${(error as Error).message}\n\n${usage}`);
    }
    throw error;
  }
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
