import { createHash, timingSafeEqual } from 'node:crypto';
import type { onRequestHookHandler } from 'fastify';
import { ApiError } from './apiError.ts';

/** Hashing first gives equal lengths, so the comparison takes the same time whatever the token. */
function tokenChecker(tokens: readonly string[]): (presented: string) => boolean {
  const digest = (value: string) => createHash('sha256').update(value).digest();
  const expected = tokens.map(digest);
  return (presented) => {
    const candidate = digest(presented);
    let match = false;
    for (const token of expected) match = timingSafeEqual(token, candidate) || match;
    return match;
  };
}

/** Lets a request through only with `Authorization: Bearer <one of tokens>`; otherwise 401 `unauthorized`. */
export function requireBearerToken(tokens: readonly string[]): onRequestHookHandler {
  const accepts = tokenChecker(tokens);
  return (request, _reply, done) => {
    const match = /^Bearer (.+)$/.exec(request.headers.authorization ?? '');
    if (match?.[1] === undefined || !accepts(match[1])) {
      done(new ApiError('unauthorized', 'send a valid token: Authorization: Bearer <token>'));
      return;
    }
    done();
  };
}

/**
 * /admin/* with no tokens configured (AUTH_DISABLED=true): starting a rebuild is never open to anyone, whatever
 * AUTH_DISABLED says, so every request is refused with 403 `admin_disabled`.
 */
export const refuseAdminWithoutTokens: onRequestHookHandler = (_request, _reply, done) => {
  done(
    new ApiError(
      'admin_disabled',
      '/admin/* needs API_TOKENS: set API_TOKENS on the service and send Authorization: Bearer <token> ' +
        '(AUTH_DISABLED opens /v1/* only)',
    ),
  );
};
