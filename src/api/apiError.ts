/** Every error the API returns: a stable code, its HTTP status, defined here only. */
export const API_ERRORS = {
  invalid_request: 400,
  unauthorized: 401,
  admin_disabled: 403,
  not_found: 404,
  request_timeout: 408,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  headers_too_large: 431,
  internal_error: 500,
  // Every 503 means "not now, ask again": each carries a Retry-After header.
  not_ready: 503,
  shutting_down: 503,
  overloaded: 503,
  partition_not_owned: 503,
  partition_restoring: 503,
  /** min_positions not applied within the wait (engine/clusterReads.ts). */
  not_caught_up: 503,
  /** The instance owning part of the request did not answer it. */
  owner_unreachable: 503,
  engine_timeout: 503,
  dependency_unavailable: 503,
} as const;

export type ApiErrorCode = keyof typeof API_ERRORS;

/** What a 503 advises when its thrower knows no better: soon, without hammering. */
export const DEFAULT_RETRY_AFTER_SECONDS = 1;

export class ApiError extends Error {
  readonly code: ApiErrorCode;
  /** Whole seconds for the Retry-After header: set on every 503, never on other statuses. */
  readonly retryAfterSeconds: number | undefined;
  constructor(
    code: ApiErrorCode,
    message: string,
    options: { retryAfterSeconds?: number; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ApiError';
    this.code = code;
    // Retry-After takes whole seconds; rounding up never invites a client back before it was told.
    const seconds = options.retryAfterSeconds ?? DEFAULT_RETRY_AFTER_SECONDS;
    this.retryAfterSeconds =
      API_ERRORS[code] === 503
        ? Math.max(1, Number.isFinite(seconds) ? Math.ceil(seconds) : DEFAULT_RETRY_AFTER_SECONDS)
        : undefined;
  }
  get status(): number {
    return API_ERRORS[this.code];
  }
}

export function errorBody(
  code: ApiErrorCode,
  message: string,
): { error: { code: ApiErrorCode; message: string } } {
  return { error: { code, message } };
}
