import { describe, expect, it } from 'vitest';
import { outsideLog } from '../../src/ingest/logBounds.ts';

describe('outsideLog', () => {
  it('accepts a stored offset anywhere from the log start to its end, and none on a log from 0', () => {
    expect(outsideLog('t', 0, 5n, 0n, 10n)).toBeUndefined();
    expect(outsideLog('t', 0, 10n, 0n, 10n)).toBeUndefined();
    expect(outsideLog('t', 0, 3n, 3n, 10n)).toBeUndefined();
    expect(outsideLog('t', 0, undefined, 0n, 10n)).toBeUndefined();
  });

  it('refuses an offset above the log end (a recreated topic) and says how to recover', () => {
    expect(outsideLog('t', 2, 11n, 0n, 10n)).toMatch(
      /t partition 2: .*\(11\) is above the end of the log \(10\).*rebuild --offline/,
    );
  });

  it('refuses an offset below the log start (retention deleted events), also with nothing stored', () => {
    expect(outsideLog('t', 1, 2n, 3n, 10n)).toMatch(/next offset to apply is 2 but the log now starts at 3/);
    expect(outsideLog('t', 1, undefined, 3n, 10n)).toMatch(/next offset to apply is 0/);
  });
});
