import { AssignerProtocol, type Consumer } from 'kafkajs';
import type { Logger } from '../logger.ts';
import { decodeClusterMap, type ClusterMap } from './clusterMap.ts';

/** About a minute of asking: a group led by an older version (no map) stays without one until the next rebalance. */
const ATTEMPTS = 40;

/**
 * The map the leader put in this generation's assignments (coPartitionedAssigner.ts). kafkajs keeps the user data
 * of the assignment it receives to itself, so it is read back from the group's description, which the coordinator
 * gives only once the group is stable: asked again until then, or until `current()` says a newer join came.
 */
export async function readClusterMap(
  consumer: Pick<Consumer, 'describeGroup'>,
  options: { current: () => boolean; onMap: (map: ClusterMap) => void; log: Logger },
): Promise<void> {
  for (let attempt = 0; attempt < ATTEMPTS && options.current(); attempt++) {
    try {
      const group = await consumer.describeGroup();
      const map =
        group.state === 'Stable' && group.protocol === 'ReadstatesCoPartitioned'
          ? group.members
              .map(({ memberAssignment }) =>
                decodeClusterMap(AssignerProtocol.MemberAssignment.decode(memberAssignment)?.userData),
              )
              .find((found) => found !== undefined)
          : undefined;
      if (map !== undefined) {
        if (options.current()) options.onMap(map);
        return;
      }
    } catch (error) {
      options.log.debug({ err: error }, 'could not describe the consumer group');
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(100 * 2 ** attempt, 2_000)));
  }
}
