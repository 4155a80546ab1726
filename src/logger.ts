import { pino, type Logger } from 'pino';

export type { Logger };

/** Structured JSON logs on stdout; each part of the service gets a child logger named after it. */
export function createLogger(level: string): Logger {
  return pino({ level, base: { service: 'readstates' } });
}
