import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createHeartbeatWatch } from '../../src/ingest/heartbeatWatch.ts';

function watched(sessionTimeoutMs: number) {
  let clock = 0;
  const told: string[] = [];
  const watch = createHeartbeatWatch({
    sessionTimeoutMs,
    now: () => clock,
    lost: (silentMs) => told.push(`lost ${silentMs}`),
    regained: () => told.push('regained'),
  });
  return {
    watch,
    told,
    wait: (ms: number) => {
      clock += ms;
    },
  };
}

describe('heartbeatWatch', () => {
  it('says lost once a whole session timeout passed without a heartbeat, once, and regained at the next one', () => {
    const { watch, told, wait } = watched(6_000);
    wait(6_000);
    watch.check();
    expect(told).toEqual([]);
    wait(1);
    watch.check();
    wait(5_000);
    watch.check();
    expect(told).toEqual(['lost 6001']);
    watch.beat();
    watch.beat();
    expect(told).toEqual(['lost 6001', 'regained']);
    wait(6_000);
    watch.check();
    expect(told).toEqual(['lost 6001', 'regained']);
  });

  it('over any schedule of heartbeats and checks: lost exactly when a check saw a silence longer than the timeout, alternating with regained', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ wait: fc.integer({ min: 0, max: 4_000 }), beat: fc.boolean() }), {
          maxLength: 60,
        }),
        (steps) => {
          const { watch, told, wait } = watched(3_000);
          let silentSince = 0;
          let clock = 0;
          let silent = false;
          const expected: string[] = [];
          for (const step of steps) {
            wait(step.wait);
            clock += step.wait;
            if (step.beat) {
              watch.beat();
              silentSince = clock;
              if (silent) expected.push('regained');
              silent = false;
            } else {
              watch.check();
              if (!silent && clock - silentSince > 3_000) {
                expected.push(`lost ${clock - silentSince}`);
                silent = true;
              }
            }
          }
          expect(told).toEqual(expected);
        },
      ),
    );
  });
});
