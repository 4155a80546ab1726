import { Partitioners } from 'kafkajs';

/**
 * The partition a record key lands on: asked of kafkajs's own DefaultPartitioner (murmur2 of the key bytes, the
 * Java client's default too, which the publisher SDK uses), so reads find a channel's state where the projector
 * wrote it, and the projector can refuse a record a producer put on another partition (`wrong_partition`).
 */
export function createPartitionOf(partitionCount: number): (key: string | Uint8Array) => number {
  const partitioner = Partitioners.DefaultPartitioner();
  const partitionMetadata = Array.from({ length: partitionCount }, (_, partitionId) => ({
    partitionId,
    leader: 0,
    replicas: [0],
    isr: [0],
    offlineReplicas: [],
    partitionErrorCode: 0,
  }));
  return (key) =>
    partitioner({
      topic: 'any',
      partitionMetadata,
      // murmur2 hashes a Buffer's bytes as they are, a string's UTF-8 bytes.
      message: {
        key: typeof key === 'string' ? key : Buffer.from(key.buffer, key.byteOffset, key.byteLength),
        value: null,
      },
    });
}
