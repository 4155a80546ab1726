/**
 * A client that keeps asking for read states through a fault, and a judge of what it was told: every answer is
 * 200 with values a correct service could show part-way through the history (prefixViews.ts), or 503 with
 * Retry-After. No answer at all, another status, or a wrong 200 is a problem.
 */
import type { Snowflake } from '../../../src/contract/snowflake.ts';
import type { FaultHarness, LookupAnswer } from './faultHarness.ts';

export interface ProbeAnswer extends LookupAnswer {
  user: Snowflake;
  /** How many channels were asked for: a 200 must answer each. */
  channels: number;
  /** When the request was sent and when its answer (or failure) came, ms since the epoch. */
  sentAt: number;
  answeredAt: number;
}

export interface LookupProbe {
  answers: ProbeAnswer[];
  /** Stops asking; resolves once the request in flight has its answer. */
  stop(): Promise<ProbeAnswer[]>;
}

export function startLookupProbe(
  harness: FaultHarness,
  url: string,
  pairs: { users: readonly Snowflake[]; channels: readonly Snowflake[] },
  intervalMs = 100,
): LookupProbe {
  const answers: ProbeAnswer[] = [];
  const state = { running: true };
  const loop = (async () => {
    for (let i = 0; state.running; i++) {
      const user = pairs.users[i % pairs.users.length];
      if (user === undefined) return;
      const sentAt = Date.now();
      const answer = await harness.lookup(url, user, pairs.channels, 5_000);
      answers.push({ ...answer, user, channels: pairs.channels.length, sentAt, answeredAt: Date.now() });
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  })();
  return {
    answers,
    async stop() {
      state.running = false;
      await loop;
      return answers;
    },
  };
}

export interface ProbeVerdict {
  /** Answers sent in the window. */
  asked: number;
  ok: number;
  unavailable: number;
  /** Every answer that is neither a correct 200 nor a 503 with Retry-After, one line each. */
  problems: string[];
}

/** Judges the answers to requests sent between `from` and `to` (ms since the epoch). */
export function judgeAnswers(
  harness: FaultHarness,
  answers: readonly ProbeAnswer[],
  from = 0,
  to = Number.POSITIVE_INFINITY,
): ProbeVerdict {
  const verdict: ProbeVerdict = { asked: 0, ok: 0, unavailable: 0, problems: [] };
  for (const answer of answers) {
    if (answer.sentAt < from || answer.sentAt > to) continue;
    verdict.asked++;
    const when = new Date(answer.sentAt).toISOString();
    if (answer.status === 200) {
      verdict.ok++;
      if (answer.views.length !== answer.channels)
        verdict.problems.push(
          `${when} user ${answer.user}: ${answer.views.length} read states for ${answer.channels} channels`,
        );
      for (const view of answer.views) {
        if (!harness.acceptable(answer.user, view))
          verdict.problems.push(
            `${when} user ${answer.user}: served ${JSON.stringify(view)}, which no prefix of the history gives`,
          );
      }
    } else if (answer.status === 503) {
      verdict.unavailable++;
      if (answer.retryAfter === null)
        verdict.problems.push(`${when} user ${answer.user}: 503 without Retry-After`);
    } else {
      verdict.problems.push(
        `${when} user ${answer.user}: ${answer.status === 0 ? `no answer (${answer.error ?? 'unknown'})` : `status ${answer.status}`}`,
      );
    }
  }
  return verdict;
}
