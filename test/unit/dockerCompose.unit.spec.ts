/** docker-compose.yml cannot run here (no Docker engine), so check it against what the service accepts. */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { configVariables, loadConfig } from '../../src/config.ts';

interface ComposeFile {
  services: Record<string, { environment?: Record<string, string | number>; build?: { dockerfile: string } }>;
}

const compose = parse(
  readFileSync(new URL('../../docker-compose.yml', import.meta.url), 'utf8'),
) as ComposeFile;

describe('docker-compose.yml', () => {
  it('runs Kafka, PostgreSQL and the service built from deploy/Dockerfile', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['kafka', 'postgres', 'readstates']);
    expect(compose.services.readstates?.build?.dockerfile).toBe('deploy/Dockerfile');
  });

  it('gives the service only variables its config schema knows, with values that schema accepts', () => {
    const environment = compose.services.readstates?.environment ?? {};
    const unknown = Object.keys(environment).filter((name) => !(configVariables as string[]).includes(name));
    expect(unknown).toEqual([]);
    const config = loadConfig(
      Object.fromEntries(Object.entries(environment).map(([k, v]) => [k, String(v)])),
    );
    expect(config.KAFKA_BROKERS).toEqual(['kafka:9092']);
    expect(config.DATABASE_URL).toMatch(/@postgres:5432\//);
  });
});
