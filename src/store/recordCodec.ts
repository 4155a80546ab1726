/**
 * Record values on disk: JSON. The records are small plain values (see src/projection/records.ts), JSON keeps
 * them readable with any RocksDB tool, and a later compact binary codec can replace this one behind the same
 * two functions (the bytes-per-read-state benchmark will say whether it is worth it).
 */
export function encodeRecord(record: unknown): Buffer {
  return Buffer.from(JSON.stringify(record));
}

export function decodeRecord(bytes: Buffer): unknown {
  return JSON.parse(bytes.toString('utf8'));
}

export function encodeOffset(offset: bigint): Buffer {
  const bytes = Buffer.allocUnsafe(8);
  bytes.writeBigInt64BE(offset, 0);
  return bytes;
}

export function decodeOffset(bytes: Buffer): bigint {
  return bytes.readBigInt64BE(0);
}
