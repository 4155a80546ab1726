import { lookup } from 'node:dns/promises';
import { availableParallelism, hostname, networkInterfaces } from 'node:os';
import { z } from 'zod';
import { SNOWFLAKE_EPOCH_MS } from './contract/snowflake.ts';

/**
 * The service's whole configuration: one schema, parsed once at start-up. Defaults here are the single source
 * of truth (the README's table and docker-compose.yml are checked against this schema by a test).
 */
const list = z
  .string()
  .transform((value) => value.split(',').map((item) => item.trim()))
  .pipe(z.array(z.string().min(1, 'must not contain empty items')).min(1));

/** A token short enough to guess is no lock; 16 characters is the floor, 32 random bytes the advice. */
export const MIN_API_TOKEN_LENGTH = 16;

const tokenList = z
  .string()
  .transform((value) => value.split(',').map((item) => item.trim()))
  .pipe(
    z
      .array(
        z
          .string()
          .min(
            MIN_API_TOKEN_LENGTH,
            `every token must be at least ${MIN_API_TOKEN_LENGTH} characters; make one with \`openssl rand -hex 32\``,
          ),
      )
      .min(1),
  );

const flag = z.enum(['true', 'false', '1', '0']).transform((value) => value === 'true' || value === '1');

const port = z.coerce
  .number({ error: 'must be a port number (0-65535)' })
  .int('must be a port number (0-65535)')
  .min(0, 'must be a port number (0-65535)')
  .max(65535, 'must be a port number (0-65535)');

/** The smallest RESIDENT_RECORDS: a rebuild's threads never split the budget below it either. */
export const MIN_RESIDENT_RECORDS = 1_000;
/**
 * WRITE_BACK_MS unless set: a SIGKILL costs up to about 30 s of replay, and a steady load writes each busy channel
 * twice a minute.
 */
export const DEFAULT_WRITE_BACK_MS = 30_000;

/** A thread count; by default the cores this process may run on. */
const threads = z.coerce
  .number({ error: 'must be a whole number of threads, 1 or more' })
  .int('must be a whole number of threads, 1 or more')
  .min(1, 'must be a whole number of threads, 1 or more')
  .max(256, 'must be at most 256')
  .default(() => availableParallelism());

export const configSchema = z.object({
  KAFKA_BROKERS: list.default(['127.0.0.1:9092']).describe('comma-separated bootstrap brokers, host:port'),
  KAFKA_CLIENT_ID: z.string().min(1).default('readstates'),
  KAFKA_GROUP_ID: z.string().min(1).default('readstates').describe('consumer group'),
  KAFKA_SSL: flag.default(false).describe('connect to the brokers over TLS'),
  KAFKA_SASL_MECHANISM: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']).optional(),
  KAFKA_SASL_USERNAME: z.string().min(1).optional(),
  KAFKA_SASL_PASSWORD: z.string().min(1).optional(),
  KAFKA_SESSION_TIMEOUT_MS: z.coerce
    .number({ error: 'must be a whole number of milliseconds' })
    .int('must be a whole number of milliseconds')
    .min(6_000, "must be at least 6000 (the broker's group.min.session.timeout.ms)")
    .default(30_000)
    .describe(
      'how long the group waits for a silent member (a crashed instance) before moving its partitions',
    ),
  TOPIC_MESSAGES: z.string().min(1).default('chat.messages'),
  TOPIC_ACKS: z.string().min(1).default('chat.acks'),
  DATA_DIR: z.string().min(1).default('./data').describe('RocksDB and generation files'),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// connection URL')
    .default('postgres://postgres@127.0.0.1:5432/readstates'),
  HTTP_HOST: z.string().min(1).default('0.0.0.0'),
  HTTP_PORT: port.default(8080),
  HTTP_THREADS: threads.describe(
    'threads serving HTTP on the one port (SO_REUSEPORT, Linux only; elsewhere 1); default the number of cores',
  ),
  HTTP_ADVERTISED_URL: z
    .url({
      protocol: /^https?$/,
      error: 'must be an http:// or https:// URL, e.g. http://readstates-0.readstates:8080',
    })
    .refine((text) => {
      const url = new URL(text);
      return (
        url.pathname === '/' &&
        url.search === '' &&
        url.hash === '' &&
        url.username === '' &&
        url.password === ''
      );
    }, 'must be scheme://host:port only: no path, query or credentials (peers add /v1/... themselves)')
    .transform((url) => url.replace(/\/+$/, ''))
    .optional()
    .describe(
      'how the other instances reach this one (sent to the group with its partitions); default ' +
        'http://<HTTP_HOST>:<HTTP_PORT>, with the host name when HTTP_HOST is 0.0.0.0 or ::',
    ),
  PARTITION_RETAIN_MS: z.coerce
    .number({ error: 'must be a whole number of milliseconds' })
    .int('must be a whole number of milliseconds')
    .min(0, 'must be 0 or more')
    .default(600_000)
    .describe(
      'how long the state of a partition that moved to another instance is kept (it answers for it until the ' +
        'new owner has caught up, and restores from it if the partition comes back), then deleted',
    ),
  API_TOKENS: tokenList
    .optional()
    .describe('comma list of secret tokens; /v1/* and /admin/* need Authorization: Bearer <token>'),
  AUTH_DISABLED: flag
    .default(false)
    .describe('true serves /v1/* without a token (development only); /admin/* still needs API_TOKENS'),
  HOT_TIER_MB: z.coerce
    .number({ error: 'must be a whole number of MiB' })
    .int('must be a whole number of MiB')
    .min(1)
    .max(1_048_576)
    .default(256)
    .describe('memory budget of the hot tier'),
  RESIDENT_RECORDS: z.coerce
    .number({ error: 'must be a whole number of ids' })
    .int('must be a whole number of ids')
    .min(MIN_RESIDENT_RECORDS)
    .max(1_000_000_000)
    // 8M: a 5M-event backlog's channels (about 4.5M ids) stay resident. At 2M a caught-up projector loaded and
    // evicted a channel for most events and fell behind 20,000 events/s (docs/performance.md).
    .default(8_000_000)
    .describe(
      'ids (messages, tombstones, mentions and members of channels) the projector keeps resident in memory (least ' +
        'recently used channels leave first); about 120 bytes each',
    ),
  WRITE_BACK_MS: z.coerce
    .number({ error: 'must be a whole number of milliseconds' })
    .int('must be a whole number of milliseconds')
    .min(100, 'must be 100 or more')
    .max(3_600_000, 'must be 3600000 (an hour) or less')
    .default(DEFAULT_WRITE_BACK_MS)
    .describe(
      'longest a changed channel stays in memory only (its events are in Kafka) before RocksDB gets it: about ' +
        'what a restart after a crash replays. Lower writes more',
    ),
  REBUILD_THREADS: threads.describe(
    'threads a rebuild folds on, each a share of the partitions (at most one per partition); default the ' +
      'number of cores. An online rebuild shares them with live projection and lookups: fewer leave those more',
  ),
  SNOWFLAKE_EPOCH_MS: z.coerce
    .number({ error: 'must be milliseconds since 1970' })
    .int('must be a whole number of milliseconds since 1970')
    .min(0)
    .max(Date.UTC(2100, 0, 1))
    .default(SNOWFLAKE_EPOCH_MS)
    .describe(
      "the epoch of the snowflake ids (Discord's, 2015-01-01, unless they use another): a member_joined event's " +
        'time gives the first id that counts for the member; changing it needs a rebuild',
    ),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  FAILPOINTS: z
    .string()
    .regex(/^engine_exit_after_ms:\d+$/, 'must be engine_exit_after_ms:<ms> (the only failpoint)')
    .transform((value) => ({ engineExitAfterMs: Number(value.split(':')[1]) }))
    .optional()
    .describe('tests only: faults to inject, e.g. engine_exit_after_ms:2000; never set it in production'),
});

export type Config = z.output<typeof configSchema>;

/** Where peers reach this instance: HTTP_ADVERTISED_URL, else made from HTTP_HOST and HTTP_PORT. */
export function advertisedUrl(
  config: Pick<Config, 'HTTP_ADVERTISED_URL' | 'HTTP_HOST' | 'HTTP_PORT'>,
): string {
  if (config.HTTP_ADVERTISED_URL !== undefined) return config.HTTP_ADVERTISED_URL;
  const host = isWildcard(config.HTTP_HOST) ? hostname() : config.HTTP_HOST;
  return urlOf(host, config.HTTP_PORT);
}

/**
 * `advertisedUrl`, checked: a host name that does not resolve here would send peers nowhere, so a wildcard
 * listener whose host name does not resolve advertises its first external IPv4 address instead (said in
 * `warning`). `serve` fixes the result into the config once, so every thread advertises the same URL.
 */
export async function resolveAdvertisedUrl(
  config: Pick<Config, 'HTTP_ADVERTISED_URL' | 'HTTP_HOST' | 'HTTP_PORT'>,
): Promise<{ url: string; warning?: string }> {
  const url = advertisedUrl(config);
  if (config.HTTP_ADVERTISED_URL !== undefined || !isWildcard(config.HTTP_HOST)) return { url };
  try {
    await Promise.race([
      lookup(hostname()),
      new Promise((_, reject) =>
        setTimeout(() => {
          reject(new Error('timed out'));
        }, 2_000).unref(),
      ),
    ]);
    return { url };
  } catch {
    const address = Object.values(networkInterfaces())
      .flat()
      .find((found) => found !== undefined && found.family === 'IPv4' && !found.internal)?.address;
    const fallback = urlOf(address ?? '127.0.0.1', config.HTTP_PORT);
    return {
      url: fallback,
      warning:
        `the host name "${hostname()}" does not resolve, so other instances are told ${fallback}; set ` +
        'HTTP_ADVERTISED_URL to the address they reach this one at',
    };
  }
}

function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::';
}

function urlOf(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

export const configVariables = Object.keys(configSchema.shape) as (keyof typeof configSchema.shape)[];

/** Variables for tests only: deployments never set them. */
export const testOnlyVariables = [
  'FAILPOINTS',
] as const satisfies readonly (keyof typeof configSchema.shape)[];

/**
 * Credentials. Their values are never echoed in an error, and deploy/k8s takes exactly these from a Secret (a
 * test checks both).
 */
export const secretVariables = [
  'API_TOKENS',
  'DATABASE_URL',
  'KAFKA_SASL_PASSWORD',
] as const satisfies readonly (keyof typeof configSchema.shape)[];

const isSecret = (name: string): boolean => (secretVariables as readonly string[]).includes(name);

export class ConfigError extends Error {
  readonly code = 'invalid_config';
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(
      `Invalid configuration; fix these environment variables and start again:\n  ${problems.join('\n  ')}`,
    );
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** Only this function reads the environment; everything else is handed a Config. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const relevant = Object.fromEntries(configVariables.map((name) => [name, blankToUndefined(env[name])]));
  const parsed = configSchema.safeParse(relevant);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        const name = String(issue.path[0]);
        // Which item of a comma list: `API_TOKENS[1]` (the list's values may not be shown).
        const item = issue.path
          .slice(1)
          .map((index) => `[${String(index)}]`)
          .join('');
        const hint = configSchema.shape[name as keyof typeof configSchema.shape].description;
        // A secret is named, never shown: this message ends up in terminals, CI logs and crash reports.
        const shown = isSecret(name)
          ? `${name}${item} (value not shown)`
          : `${name}${item}=${JSON.stringify(env[name])}`;
        return `${shown}: ${issue.message}${hint === undefined ? '' : ` (${hint})`}`;
      }),
    );
  }
  const config = parsed.data;
  const sasl = [config.KAFKA_SASL_MECHANISM, config.KAFKA_SASL_USERNAME, config.KAFKA_SASL_PASSWORD];
  if (sasl.some((value) => value !== undefined) && sasl.some((value) => value === undefined)) {
    throw new ConfigError([
      'KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD: set all three to use SASL, or none',
    ]);
  }
  return config;
}

/**
 * The rules only `serve` needs, checked before it opens anything: the API must not answer anyone by accident.
 * The other commands (status, migrate, dead-letters…) open no port and need no token, so loadConfig does not ask.
 */
export function checkServeConfig(config: Config): void {
  if (config.API_TOKENS === undefined && !config.AUTH_DISABLED) {
    throw new ConfigError([
      'API_TOKENS is not set, so /v1/* would answer anyone who reaches the port. Set API_TOKENS to a comma list ' +
        `of secret tokens of at least ${MIN_API_TOKEN_LENGTH} characters (\`openssl rand -hex 32\`), ` +
        'or, for development only, AUTH_DISABLED=true to serve /v1/* without one (/admin/* then stays closed)',
    ]);
  }
}

/** What `serve` warns at every start while AUTH_DISABLED holds, so an open API never goes unnoticed. */
export function authWarning(config: Config): string | undefined {
  if (!config.AUTH_DISABLED) return undefined;
  const admin =
    config.API_TOKENS === undefined
      ? '/admin/* is refused until API_TOKENS is set'
      : '/admin/* still needs one of API_TOKENS';
  return `AUTH_DISABLED=true: /v1/* answers anyone without a token; ${admin}. Never run this in production`;
}

function blankToUndefined(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}
