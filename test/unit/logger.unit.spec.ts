/** No secret reaches a log line: fields by path, and URLs with a password or bearer tokens inside any text. */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../src/api/app.ts';
import { loadConfig } from '../../src/config.ts';
import { createLogger, redactSecretsInText } from '../../src/logger.ts';

const secrets = {
  token: 'tok-5e1f0c3a9b7d24e86f10',
  dbPassword: 'Db-Pa55w0rd-77aa11',
  saslPassword: 'sasl-Pa55w0rd-42bb99',
};

/** A logger at `level` whose lines land in `lines`, as the service's would on stdout. */
function capturingLogger(level = 'trace') {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(chunk.toString('utf8'));
      callback();
    },
  });
  return { logger: createLogger(level, destination), output: () => lines.join('') };
}

function expectNoSecret(output: string): void {
  for (const secret of Object.values(secrets)) expect(output).not.toContain(secret);
}

describe('createLogger', () => {
  it('redacts the config, client options and headers that carry credentials', () => {
    const { logger, output } = capturingLogger();
    const config = loadConfig({
      API_TOKENS: secrets.token,
      DATABASE_URL: `postgres://readstates:${secrets.dbPassword}@db:5432/readstates`,
      KAFKA_SASL_MECHANISM: 'plain',
      KAFKA_SASL_USERNAME: 'readstates',
      KAFKA_SASL_PASSWORD: secrets.saslPassword,
    });
    logger.info({ config }, 'configuration');
    logger.info(config, 'configuration, spread');
    logger.child({ part: 'kafkajs' }).warn({ sasl: { mechanism: 'plain', password: secrets.saslPassword } });
    logger.warn({ connectionString: config.DATABASE_URL }, 'pool');
    logger.warn({ req: { headers: { authorization: `Bearer ${secrets.token}` } } }, 'request');
    expectNoSecret(output());
    expect(output()).toContain('"KAFKA_SASL_USERNAME":"readstates"');
    expect(output()).toContain('[redacted]');
  });

  it('redacts a password inside a URL and a bearer token in any message or stack', () => {
    const { logger, output } = capturingLogger();
    const url = `postgres://readstates:${secrets.dbPassword}@db.internal:5432/readstates`;
    logger.error({ err: new Error(`could not connect to ${url}`) }, 'start-up failed');
    logger.warn(`retrying ${url}`);
    logger.warn({ detail: `sent Authorization: Bearer ${secrets.token}` }, 'upstream said no');
    expectNoSecret(output());
    // What helps an operator stays: the user, the host, the scheme.
    expect(output()).toContain('postgres://readstates:[redacted]@db.internal:5432/readstates');
  });

  it('leaves text without credentials alone', () => {
    const line =
      '{"msg":"GET http://127.0.0.1:8080/healthz and postgres://postgres@127.0.0.1:5432/readstates"}';
    expect(redactSecretsInText(line)).toBe(line);
  });
});

describe('the HTTP API logs', () => {
  it('an internal error quoting a connection URL, on a request with a token, without either secret', async () => {
    const { logger, output } = capturingLogger();
    const fail = () =>
      Promise.reject(
        new Error(
          `pool: postgres://readstates:${secrets.dbPassword}@db:5432/readstates refused the connection`,
        ),
      );
    const app = buildApp({
      logger,
      readStates: { lookup: fail, listChannels: fail },
      notReadyReason: () => undefined,
      apiTokens: [secrets.token],
    });
    try {
      const response = await app.inject({
        url: '/v1/users/2/read-states?channel_ids=10',
        headers: { authorization: `Bearer ${secrets.token}` },
      });
      expect(response.statusCode).toBe(500);
      expectNoSecret(response.body);
    } finally {
      await app.close();
    }
    expect(output()).toContain('request failed');
    expectNoSecret(output());
  });
});
