/**
 * Finds the real Kafka broker and PostgreSQL server the integration tests run against, in this order:
 * the environment (KAFKA_BROKERS / DATABASE_URL) → a Docker engine (testcontainers) → the local ones
 * (the broker from deploy/local-kafka, PostgreSQL on 127.0.0.1:5432). Never a fake.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import pg from '@databases/pg';

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

export interface Service<T> {
  value: T;
  source: 'environment' | 'docker' | 'local';
  description: string;
  stop: () => Promise<void>;
}

const nothingToStop = () => Promise.resolve();

export async function kafkaBrokerVersion(brokers: string[]): Promise<string> {
  const admin = new Kafka({
    brokers,
    clientId: 'readstates-test-probe',
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3_000,
    retry: { retries: 2 },
  }).admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return `${cluster.brokers.length} broker(s), controller ${cluster.controller ?? 'none'}`;
  } finally {
    await admin.disconnect();
  }
}

async function postgresVersion(url: string): Promise<string> {
  const pool = pg.default({
    connectionString: url,
    poolSize: 1,
    bigIntMode: 'bigint',
    connectionTimeoutMilliseconds: 3_000,
  });
  try {
    const [row] = (await pool.query(pg.sql`SHOW server_version`)) as { server_version: string }[];
    return `PostgreSQL ${row?.server_version ?? 'unknown version'}`;
  } finally {
    await pool.dispose();
  }
}

function dockerAvailable(): boolean {
  return process.env.DOCKER_HOST !== undefined || existsSync('/var/run/docker.sock');
}

export async function resolveKafka(): Promise<Service<string[]>> {
  const fromEnv = process.env.KAFKA_BROKERS;
  if (fromEnv !== undefined && fromEnv !== '') {
    const brokers = fromEnv.split(',');
    return {
      value: brokers,
      source: 'environment',
      description: await kafkaBrokerVersion(brokers),
      stop: nothingToStop,
    };
  }
  if (dockerAvailable()) {
    const { KafkaContainer } = await import('@testcontainers/kafka');
    // confluentinc/cp-kafka 7.9 is Apache Kafka 3.9, the image testcontainers' Kafka module is built for.
    const container = await new KafkaContainer('confluentinc/cp-kafka:7.9.1').withKraft().start();
    const brokers = [`${container.getHost()}:${container.getMappedPort(9093)}`];
    return {
      value: brokers,
      source: 'docker',
      description: 'cp-kafka 7.9.1 (Apache Kafka 3.9) in Docker',
      stop: async () => {
        await container.stop();
      },
    };
  }
  const port = process.env.KAFKA_PORT ?? '9092';
  const brokers = [`127.0.0.1:${port}`];
  const alreadyUp = await kafkaBrokerVersion(brokers).then(
    () => true,
    () => false,
  );
  try {
    const { stdout } = await run('bash', [`${repoRoot}deploy/local-kafka/kafka-up.sh`], { timeout: 600_000 });
    return {
      value: brokers,
      source: 'local',
      description: stdout.trim().split('\n').at(-1) ?? 'local broker',
      // Stop only a broker this run started: a developer's running broker stays up.
      stop: alreadyUp
        ? nothingToStop
        : async () => {
            await run('bash', [`${repoRoot}deploy/local-kafka/kafka-down.sh`], { timeout: 120_000 });
          },
    };
  } catch (error) {
    throw new Error(
      'No Kafka broker for the integration tests. Set KAFKA_BROKERS, start a Docker engine, or run ' +
        '`npm run kafka:up` (needs Java 17 and Maven) and look at .local/kafka/server.log.',
      { cause: error },
    );
  }
}

export async function resolvePostgres(): Promise<Service<string>> {
  const fromEnv = process.env.DATABASE_URL;
  if (fromEnv !== undefined && fromEnv !== '') {
    return {
      value: fromEnv,
      source: 'environment',
      description: await postgresVersion(fromEnv),
      stop: nothingToStop,
    };
  }
  if (dockerAvailable()) {
    const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
    const container = await new PostgreSqlContainer('postgres:16-alpine').start();
    const url = container.getConnectionUri();
    return {
      value: url,
      source: 'docker',
      description: await postgresVersion(url),
      stop: async () => {
        await container.stop();
      },
    };
  }
  const local = 'postgres://postgres@127.0.0.1:5432/postgres';
  try {
    return { value: local, source: 'local', description: await postgresVersion(local), stop: nothingToStop };
  } catch (error) {
    throw new Error(
      `No PostgreSQL for the integration tests at ${local}. Set DATABASE_URL to a server where the user may ` +
        'create databases, or start one (here: pg_ctlcluster --skip-systemctl-redirect 15 main start).',
      { cause: error },
    );
  }
}
