/** Starts (or finds) the real services once per run and hands their addresses to every test file. */
import type { TestProject } from 'vitest/node';
import { resolveKafka, resolvePostgres } from './infrastructure.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    kafkaBrokers: string[];
    /** A server URL whose user may create databases; each test file makes its own. */
    postgresUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const [kafka, postgres] = await Promise.all([resolveKafka(), resolvePostgres()]);
  console.log(`[integration] Kafka (${kafka.source}): ${kafka.value.join(',')} - ${kafka.description}`);
  console.log(`[integration] PostgreSQL (${postgres.source}): ${postgres.description}`);
  project.provide('kafkaBrokers', kafka.value);
  project.provide('postgresUrl', postgres.value);
  return async () => {
    await Promise.all([kafka.stop(), postgres.stop()]);
  };
}
