import { describe, expect, it } from 'vitest';
import {
  advertisedUrl,
  authWarning,
  checkServeConfig,
  ConfigError,
  loadConfig,
  resolveAdvertisedUrl,
  secretVariables,
} from '../../src/config.ts';

function configErrorOf(load: () => unknown): ConfigError {
  try {
    load();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

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
      AUTH_DISABLED: false,
    });
    expect(config.API_TOKENS).toBeUndefined();
  });

  it.each(['HTTP_THREADS', 'REBUILD_THREADS'] as const)(
    'runs %s on as many threads as there are cores unless it says otherwise',
    async (name) => {
      const { availableParallelism } = await import('node:os');
      expect(loadConfig({})[name]).toBe(availableParallelism());
      expect(loadConfig({ [name]: '3' })[name]).toBe(3);
      expect(() => loadConfig({ [name]: '0' })).toThrow(
        new RegExp(`${name}="0": must be a whole number of threads`),
      );
      expect(() => loadConfig({ [name]: '1.5' })).toThrow(
        new RegExp(`${name}="1.5": must be a whole number of threads`),
      );
    },
  );

  it('advertises HTTP_ADVERTISED_URL, else the listening address, with the host name for a wildcard', async () => {
    const { hostname } = await import('node:os');
    expect(advertisedUrl(loadConfig({}))).toBe(`http://${hostname()}:8080`);
    expect(advertisedUrl(loadConfig({ HTTP_HOST: '10.0.0.7', HTTP_PORT: '9000' }))).toBe(
      'http://10.0.0.7:9000',
    );
    expect(advertisedUrl(loadConfig({ HTTP_HOST: '::1' }))).toBe('http://[::1]:8080');
    expect(advertisedUrl(loadConfig({ HTTP_ADVERTISED_URL: 'https://rs-0.rs.chat.svc:8080/' }))).toBe(
      'https://rs-0.rs.chat.svc:8080',
    );
    for (const bad of ['ftp://a:1', 'http://a:1/api', 'http://user:secret@a:1', 'http://a:1/?x=1', 'a:1']) {
      expect(() => loadConfig({ HTTP_ADVERTISED_URL: bad }), bad).toThrow(/HTTP_ADVERTISED_URL=/);
    }
  });

  it('advertises a reachable URL: the host name when it resolves, else an external address, and says so', async () => {
    const { hostname } = await import('node:os');
    const { lookup } = await import('node:dns/promises');
    const resolves = await lookup(hostname()).then(
      () => true,
      () => false,
    );
    const wildcard = await resolveAdvertisedUrl(loadConfig({ HTTP_PORT: '8081' }));
    if (resolves) expect(wildcard).toEqual({ url: `http://${hostname()}:8081` });
    else expect(wildcard.warning).toMatch(/does not resolve/);
    // An explicit URL or a listening address is used as given.
    expect(
      await resolveAdvertisedUrl(loadConfig({ HTTP_ADVERTISED_URL: 'http://nowhere.invalid:1' })),
    ).toEqual({
      url: 'http://nowhere.invalid:1',
    });
    expect(await resolveAdvertisedUrl(loadConfig({ HTTP_HOST: '127.0.0.1' }))).toEqual({
      url: 'http://127.0.0.1:8080',
    });
  });

  it('keeps the state of partitions owned elsewhere PARTITION_RETAIN_MS, 10 minutes unless told', () => {
    expect(loadConfig({}).PARTITION_RETAIN_MS).toBe(600_000);
    expect(loadConfig({ PARTITION_RETAIN_MS: '0' }).PARTITION_RETAIN_MS).toBe(0);
    expect(() => loadConfig({ PARTITION_RETAIN_MS: '-1' })).toThrow(
      /PARTITION_RETAIN_MS="-1": must be 0 or more/,
    );
  });

  it('splits comma lists and trims them', () => {
    const config = loadConfig({
      KAFKA_BROKERS: 'a:1, b:2',
      API_TOKENS: 'first-token-0123456789, second-token-0123456789',
    });
    expect(config.KAFKA_BROKERS).toEqual(['a:1', 'b:2']);
    expect(config.API_TOKENS).toEqual(['first-token-0123456789', 'second-token-0123456789']);
  });

  it('fails naming every bad variable and what it must be, showing the values of those that are no secret', () => {
    const { message } = configErrorOf(() =>
      loadConfig({ HTTP_PORT: 'eighty', HOT_TIER_MB: '0', LOG_LEVEL: 'loud', DATABASE_URL: 'mysql://x' }),
    );
    for (const name of [
      'HTTP_PORT="eighty"',
      'HOT_TIER_MB="0"',
      'LOG_LEVEL="loud"',
      'DATABASE_URL (value not shown): must be a postgres:// connection URL',
    ]) {
      expect(message).toContain(name);
    }
  });

  it('refuses tokens shorter than 16 characters, naming which one and how to make a good one', () => {
    const { problems } = configErrorOf(() => loadConfig({ API_TOKENS: 'a-long-enough-token-123,short' }));
    expect(problems).toEqual([
      expect.stringMatching(
        /^API_TOKENS\[1\] \(value not shown\): every token must be at least 16 characters/,
      ),
    ]);
    expect(problems[0]).toContain('openssl rand -hex 32');
    expect(loadConfig({ AUTH_DISABLED: 'true' }).AUTH_DISABLED).toBe(true);
  });

  it('never puts the value of a secret variable in an error', () => {
    const secrets = {
      token: 'tok-9f8e7d6c5b4a39281706',
      shortToken: 'tiny-secret',
      dbPassword: 'Db-Pa55w0rd-9f8e7d',
      saslPassword: 'sasl-Pa55w0rd-1a2b3c',
    };
    const expectNoSecret = (error: ConfigError) => {
      const everything = [
        error.message,
        String(error.stack),
        JSON.stringify(error),
        ...error.problems,
        String((error as { cause?: unknown }).cause),
      ].join('\n');
      for (const secret of Object.values(secrets)) expect(everything).not.toContain(secret);
    };
    expect([...secretVariables].sort()).toEqual(['API_TOKENS', 'DATABASE_URL', 'KAFKA_SASL_PASSWORD']);
    expectNoSecret(
      configErrorOf(() =>
        loadConfig({
          API_TOKENS: `${secrets.token},${secrets.shortToken}`,
          DATABASE_URL: `mysql://admin:${secrets.dbPassword}@db:3306/readstates`,
          HTTP_PORT: 'eighty',
        }),
      ),
    );
    expectNoSecret(
      configErrorOf(() =>
        loadConfig({ DATABASE_URL: `postgres//admin:${secrets.dbPassword}@db/readstates` }),
      ),
    );
    expectNoSecret(
      configErrorOf(() =>
        loadConfig({ KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_PASSWORD: secrets.saslPassword }),
      ),
    );
    expectNoSecret(
      configErrorOf(() =>
        loadConfig({
          KAFKA_SASL_MECHANISM: 'oauth',
          KAFKA_SASL_USERNAME: 'u',
          KAFKA_SASL_PASSWORD: secrets.saslPassword,
        }),
      ),
    );
  });

  it('refuses a partial SASL configuration', () => {
    expect(() => loadConfig({ KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'u' })).toThrow(
      /set all three/,
    );
  });
});

describe('checkServeConfig: serve needs tokens, or auth disabled on purpose', () => {
  it('refuses to serve without API_TOKENS, naming both variables and how to fix it', () => {
    const { message } = configErrorOf(() => {
      checkServeConfig(loadConfig({}));
    });
    expect(message).toContain('API_TOKENS is not set');
    expect(message).toContain('AUTH_DISABLED=true');
    expect(message).toContain('openssl rand -hex 32');
  });

  it('serves with tokens, silently', () => {
    const config = loadConfig({ API_TOKENS: 'a-long-enough-token-123' });
    expect(() => {
      checkServeConfig(config);
    }).not.toThrow();
    expect(authWarning(config)).toBeUndefined();
  });

  it('serves with AUTH_DISABLED=true, with a warning that says /admin stays closed', () => {
    const open = loadConfig({ AUTH_DISABLED: 'true' });
    expect(() => {
      checkServeConfig(open);
    }).not.toThrow();
    expect(authWarning(open)).toMatch(/^AUTH_DISABLED=true: \/v1\/\* answers anyone.*\/admin\/\* is refused/);
    const withAdmin = loadConfig({ AUTH_DISABLED: 'true', API_TOKENS: 'a-long-enough-token-123' });
    expect(authWarning(withAdmin)).toContain('/admin/* still needs one of API_TOKENS');
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
