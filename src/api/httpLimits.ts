/**
 * What one client may hold of the server: bytes and time. docs/operations.md (HTTP limits) gives each to
 * operators; the values are not configurable because a client that needs more is using the API wrongly.
 */
export const httpLimits = {
  /** A POST of 1,000 channel ids takes ~25 KiB. */
  maxBodyBytes: 64 * 1024,
  /**
   * The request line and headers together (Node's default, pinned so a runtime flag cannot change it). A GET with
   * too many channel ids crosses it and gets 431 `headers_too_large`, which points to POST.
   */
  maxHeaderBytes: 16 * 1024,
  /** A client dribbling its headers (slowloris) holds a socket at most this long: 408 `request_timeout`. */
  headersTimeoutMs: 10_000,
  /** The whole request, body included, must have arrived by then: 408 `request_timeout`. */
  requestTimeoutMs: 15_000,
  /**
   * A socket with a request in flight and no bytes moving either way is closed after this. A backstop only: the
   * handler's own calls to the engine time out sooner and answer 503.
   */
  connectionTimeoutMs: 30_000,
  /**
   * An idle keep-alive connection is closed after this. Longer than the 60 s idle timeout of common load
   * balancers, so the balancer closes first and never sends on a socket this server is closing (fastify's default).
   */
  keepAliveTimeoutMs: 72_000,
  /** How often Node looks for headers and requests past their timeout (its default, 30 s, would add up to 30 s). */
  timeoutCheckIntervalMs: 1_000,
} as const;
