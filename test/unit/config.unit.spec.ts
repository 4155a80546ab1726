import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';

describe('loadConfig', () => {
  it('gives the documented defaults for an empty environment', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      KAFKA_BROKERS: ['127.0.0.1:9092'],
      KAFKA_CLIENT_ID: 'readstates',
      KAFKA_GROUP_ID: 'readstates',
      TOPIC_MESSAGES: 'chat.messages',
      TOPIC_ACKS: 'chat.acks',
      DATA_DIR: './data',
      DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/readstates',
      HTTP_HOST: '0.0.0.0',
      HTTP_PORT: 8080,
      HOT_TIER_MB: 256,
      LOG_LEVEL: 'info',
      KAFKA_SSL: false,
    });
    expect(config.API_TOKENS).toBeUndefined();
  });

  it('splits comma lists and trims them', () => {
    const config = loadConfig({ KAFKA_BROKERS: 'a:1, b:2', API_TOKENS: 'one,two' });
    expect(config.KAFKA_BROKERS).toEqual(['a:1', 'b:2']);
    expect(config.API_TOKENS).toEqual(['one', 'two']);
  });

  it('fails naming every bad variable and what it must be', () => {
    let error: unknown;
    try {
      loadConfig({ HTTP_PORT: 'eighty', HOT_TIER_MB: '0', LOG_LEVEL: 'loud', DATABASE_URL: 'mysql://x' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    for (const name of [
      'HTTP_PORT="eighty"',
      'HOT_TIER_MB="0"',
      'LOG_LEVEL="loud"',
      'DATABASE_URL="mysql://x"',
    ]) {
      expect(message).toContain(name);
    }
    expect(message).toContain('must be a postgres:// connection URL');
  });

  it('refuses a partial SASL configuration', () => {
    expect(() => loadConfig({ KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'u' })).toThrow(
      /set all three/,
    );
  });
});

describe('README configuration table', () => {
  it('lists every variable the config schema accepts, and no other', async () => {
    const { readFileSync } = await import('node:fs');
    const { configVariables } = await import('../../src/config.ts');
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('## Commands'));
    const documented = [...section.matchAll(/^\| `([A-Z_]+)` +\|/gm)].map((match) => match[1]);
    expect(documented.sort()).toEqual([...configVariables].sort());
  });
});
