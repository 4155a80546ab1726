import { z } from 'zod';

/**
 * The service's whole configuration: one schema, parsed once at start-up. Defaults here are the single source
 * of truth (the README's table and docker-compose.yml are checked against this schema by a test).
 */
const list = z
  .string()
  .transform((value) => value.split(',').map((item) => item.trim()))
  .pipe(z.array(z.string().min(1, 'must not contain empty items')).min(1));

const flag = z.enum(['true', 'false', '1', '0']).transform((value) => value === 'true' || value === '1');

const port = z.coerce
  .number({ error: 'must be a port number (0-65535)' })
  .int('must be a port number (0-65535)')
  .min(0, 'must be a port number (0-65535)')
  .max(65535, 'must be a port number (0-65535)');

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
  API_TOKENS: list.optional().describe('when set, /v1/* needs Authorization: Bearer <token>'),
  HOT_TIER_MB: z.coerce
    .number({ error: 'must be a whole number of MiB' })
    .int('must be a whole number of MiB')
    .min(1)
    .max(1_048_576)
    .default(256)
    .describe('memory budget of the hot tier'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type Config = z.output<typeof configSchema>;

export const configVariables = Object.keys(configSchema.shape) as (keyof typeof configSchema.shape)[];

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
        const hint = configSchema.shape[name as keyof typeof configSchema.shape].description;
        return `${name}=${JSON.stringify(env[name])}: ${issue.message}${hint === undefined ? '' : ` (${hint})`}`;
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

function blankToUndefined(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}
