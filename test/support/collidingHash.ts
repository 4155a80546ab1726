/**
 * A weak key hash for the hot tier's shifting test: the read-state hash ignores the channel's high word, so the
 * pairs of channels (x, L) and (y, L) collide there, while the channel table (keyed by the channel alone) tells
 * them apart, so their seqlock stripes differ. A slot half rewritten from one such key to another then spells a
 * third key with the same hash: what a reader must never take for a held entry.
 */
export const collidingHash = (k1hi: number, k1lo: number, _k2hi: number, k2lo: number): number =>
  (Math.imul(k1hi, 31) + k1lo + k2lo) >>> 0;
