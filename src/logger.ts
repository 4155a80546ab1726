import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/** Where a secret could sit in a logged object: a Config (or part of one), client options, request headers. */
const secretPaths = [
  'API_TOKENS',
  'DATABASE_URL',
  'KAFKA_SASL_PASSWORD',
  '*.API_TOKENS',
  '*.DATABASE_URL',
  '*.KAFKA_SASL_PASSWORD',
  'password',
  '*.password',
  '*.*.password',
  'connectionString',
  '*.connectionString',
  'authorization',
  '*.authorization',
  '*.headers.authorization',
  // Node's HTTP parser errors carry the request's raw bytes, headers included.
  'rawPacket',
  '*.rawPacket',
];

const REDACTED = '[redacted]';

/**
 * Secrets inside text, where no field path reaches them: an error message or stack quoting a connection URL
 * (`postgres://user:password@host`) or an Authorization header. Applied to every line as written.
 */
export function redactSecretsInText(line: string): string {
  return line
    .replace(/\b([a-z][a-z0-9+.-]*:\/\/[^\s:/@"]*:)[^\s/@"]+@/gi, `$1${REDACTED}@`)
    .replace(/\bBearer\s+[A-Za-z0-9._~+/=-]+/g, `Bearer ${REDACTED}`);
}

/**
 * Structured JSON logs (on stdout unless `destination` says otherwise); each part of the service gets a child
 * logger named after it. No secret reaches a line: known fields are redacted by path, and URLs with a password
 * or bearer tokens by pattern.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { service: 'readstates' },
    redact: { paths: secretPaths, censor: REDACTED },
    hooks: { streamWrite: redactSecretsInText },
  };
  return destination === undefined ? pino(options) : pino(options, destination);
}
