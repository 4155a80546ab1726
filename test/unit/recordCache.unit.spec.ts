import { describe, expect, it } from 'vitest';
import { ABSENT, RecordCache } from '../../src/store/recordCache.ts';

describe('RecordCache', () => {
  it('keeps the most recently used entries, absences included', () => {
    const cache = new RecordCache(2);
    cache.set('a', { n: 1 });
    cache.set('b', ABSENT);
    expect(cache.get('a')).toEqual({ n: 1 });
    cache.set('c', { n: 3 });
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toEqual({ n: 1 });
    expect(cache.get('c')).toEqual({ n: 3 });
    cache.set('c', ABSENT);
    expect(cache.get('c')).toBe(ABSENT);
    expect(cache.size).toBe(2);
    expect([cache.hits, cache.misses]).toEqual([4, 1]);
  });

  it('refuses a size that is not a whole number above 0', () => {
    expect(() => new RecordCache(0)).toThrow(/maxEntries/);
  });
});
