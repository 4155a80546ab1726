/**
 * The partition a record key lands on: murmur2 of the key's bytes, made positive, modulo the partition count —
 * the Java client's default partitioner and kafkajs's DefaultPartitioner (which the publisher SDK uses), so reads
 * find a channel's state where the projector wrote it, and the projector can refuse a record a producer put on
 * another partition (`wrong_partition`). Computed here in 32-bit arithmetic (Math.imul): kafkajs's version
 * builds Long objects for every 4 bytes, and this runs for every event applied and every channel looked up.
 * A property test holds it to kafkajs's own.
 */
export function createPartitionOf(partitionCount: number): (key: string | Uint8Array) => number {
  return (key) => {
    if (typeof key !== 'string') return (murmur2(key) & 0x7fffffff) % partitionCount;
    const ascii = asciiBytes(key);
    const hash = ascii >= 0 ? murmur2(scratch, ascii) : murmur2(encoder.encode(key));
    return (hash & 0x7fffffff) % partitionCount;
  };
}

const SEED = 0x9747b28c;
const M = 0x5bd1e995;

/**
 * Channel ids are ASCII digits: their bytes are their char codes, copied into `scratch` without an encoder (and
 * without a view of it per key, which would be garbage). Their count, or −1 when the key is not short ASCII.
 */
const scratch = new Uint8Array(64);
const encoder = new TextEncoder();
function asciiBytes(key: string): number {
  if (key.length > scratch.length) return -1;
  for (let i = 0; i < key.length; i++) {
    const code = key.charCodeAt(i);
    if (code > 0x7f) return -1;
    scratch[i] = code;
  }
  return key.length;
}

/** murmur2 of `data`'s first `length` bytes. */
export function murmur2(data: Uint8Array, length = data.length): number {
  let h = SEED ^ length;
  const whole = length & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k =
      (data[i] ?? 0) | ((data[i + 1] ?? 0) << 8) | ((data[i + 2] ?? 0) << 16) | ((data[i + 3] ?? 0) << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  // The last one to three bytes, as the reference's fall-through switch takes them.
  const tail = length & 3;
  if (tail > 0) {
    if (tail === 3) h ^= (data[whole + 2] ?? 0) << 16;
    if (tail >= 2) h ^= (data[whole + 1] ?? 0) << 8;
    h ^= data[whole] ?? 0;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}
