import { Partitioners } from 'kafkajs';

/**
 * The partition a channel's events land on: asked of kafkajs's own DefaultPartitioner (the one the publisher
 * SDK uses), so reads find a channel's state where the projector wrote it.
 */
export function createPartitionOf(partitionCount: number): (channelId: string) => number {
  const partitioner = Partitioners.DefaultPartitioner();
  const partitionMetadata = Array.from({ length: partitionCount }, (_, partitionId) => ({
    partitionId,
    leader: 0,
    replicas: [0],
    isr: [0],
    offlineReplicas: [],
    partitionErrorCode: 0,
  }));
  return (channelId) =>
    partitioner({ topic: 'any', partitionMetadata, message: { key: channelId, value: null } });
}
