/**
 * Notices when this member has gone a whole session timeout without a heartbeat the coordinator accepted: from
 * then on the group may have given its partitions to another instance, which applies events this one never sees.
 * kafkajs reports a lost broker only when its retries run out (a consumer crash, tens of seconds later) and a
 * stall of this process (a long pause, SIGSTOP) not at all; until either, answers would say they are fresh.
 *
 * `lost` is told once per silence, `regained` at the next heartbeat or join.
 */
export interface HeartbeatWatch {
  /** A heartbeat went through, or the member (re)joined the group. */
  beat(): void;
  /** Looks at the clock: call it often (every second). */
  check(): void;
}

export function createHeartbeatWatch(options: {
  sessionTimeoutMs: number;
  lost: (silentMs: number) => void;
  regained: () => void;
  now?: () => number;
}): HeartbeatWatch {
  const now = options.now ?? Date.now;
  let last = now();
  let silent = false;
  return {
    beat() {
      last = now();
      if (!silent) return;
      silent = false;
      options.regained();
    },
    check() {
      const since = now() - last;
      if (silent || since <= options.sessionTimeoutMs) return;
      silent = true;
      options.lost(since);
    },
  };
}
