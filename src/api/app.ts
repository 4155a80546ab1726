import Fastify from 'fastify';
import type { Logger } from '../logger.ts';

export interface AppDependencies {
  logger: Logger;
  /** Undefined when ready; otherwise why not (e.g. the lag still to consume). */
  notReadyReason: () => string | undefined;
}

/** Builds the HTTP API without listening: tests call `app.inject()`, main.ts calls `listen()`. */
export function buildApp(deps: AppDependencies) {
  const app = Fastify({ loggerInstance: deps.logger.child({ part: 'http' }), bodyLimit: 64 * 1024 });

  app.get('/healthz', () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const reason = deps.notReadyReason();
    if (reason === undefined) return { status: 'ready' };
    return reply.code(503).send({ status: 'not_ready', reason });
  });

  return app;
}

export type App = ReturnType<typeof buildApp>;
