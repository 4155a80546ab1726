import { describe, expect, it } from 'vitest';
import { ABSENT, ResidentState } from '../../src/store/residentState.ts';

describe('ResidentState', () => {
  it('knows every id of a partition it saw start empty as absent, until the channel is evicted', () => {
    const state = new ResidentState(2);
    state.startPartition(0, true);
    expect(state.get(0, '10', 'c:10')).toBe(ABSENT);
    state.set(0, '10', 'c:10', { n: 1 });
    state.set(0, '10', 'm:10:5', { n: 2 });
    expect(state.get(0, '10', 'c:10')).toEqual({ n: 1 });
    state.set(0, '20', 'c:20', { n: 3 });
    state.evictToBudget();
    // Channel 10 was the least recently used: gone whole, and its unknown ids are unknown again.
    expect(state.size).toBe(1);
    expect(state.get(0, '10', 'c:10')).toBeUndefined();
    expect(state.get(0, '20', 'c:20')).toEqual({ n: 3 });
    expect(state.get(0, '20', 'm:20:1')).toBe(ABSENT);
    expect(state.evictions).toBe(1);
  });

  it('knows nothing absent of a partition that held data, and nothing of one never started', () => {
    const state = new ResidentState(10);
    state.startPartition(1, false);
    expect(state.get(1, '10', 'c:10')).toBeUndefined();
    state.set(1, '10', 'c:10', ABSENT);
    expect(state.get(1, '10', 'c:10')).toBe(ABSENT);
    expect(state.get(2, '10', 'c:10')).toBeUndefined();
    state.set(2, '10', 'c:10', { n: 1 });
    expect(state.get(2, '10', 'c:10')).toBeUndefined();
    expect(state.size).toBe(1);
  });

  it('forgets a partition whole', () => {
    const state = new ResidentState(10);
    state.startPartition(0, true);
    state.startPartition(1, true);
    state.set(0, '10', 'c:10', { n: 1 });
    state.set(1, '11', 'c:11', { n: 2 });
    state.forget(0);
    expect(state.knows(0)).toBe(false);
    expect(state.get(0, '10', 'c:10')).toBeUndefined();
    expect(state.get(1, '11', 'c:11')).toEqual({ n: 2 });
    expect(state.size).toBe(1);
  });

  it('refuses a budget that is not a whole number above 0', () => {
    expect(() => new ResidentState(0)).toThrow(/maxRecords/);
  });
});
