/**
 * Answers sent thousands of times a second, as bytes in a shared slab: what is sent is a view of the slab (a
 * Buffer), so Node neither measures the answer string for Content-Length and then converts it again on the way
 * to the socket (both flatten it first: it is built by concatenation), nor tracks a backing store per answer, as
 * it would for a Buffer of its own. A slab is never written twice: when one fills, the next answer starts a new
 * one, and the old is freed once the last answer viewing it has been written out.
 */

/** A slab holds many answers: an answer of 50 read states is ~8 KB. */
const SLAB_BYTES = 1 << 20;

export class SlabBytes {
  private slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
  private at = 0;

  /** `text` as UTF-8, in a view of the slab that stays valid. */
  of(text: string): Buffer {
    // UTF-8 takes at most 3 bytes per UTF-16 unit.
    const room = 3 * text.length;
    if (this.at + room > this.slab.length) {
      this.slab = Buffer.allocUnsafeSlow(Math.max(SLAB_BYTES, room));
      this.at = 0;
    }
    const start = this.at;
    this.at += this.slab.write(text, start, 'utf8');
    return this.slab.subarray(start, this.at);
  }
}
