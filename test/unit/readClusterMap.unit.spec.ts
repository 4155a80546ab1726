import { AssignerProtocol, type ConsumerGroupState, type GroupDescription } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { encodeClusterMap, type ClusterMap } from '../../src/ingest/clusterMap.ts';
import { readClusterMap } from '../../src/ingest/readClusterMap.ts';
import { createLogger } from '../../src/logger.ts';

const map: ClusterMap = {
  v: 1,
  assignedAt: 1,
  members: ['http://a:1', 'http://b:2'],
  owners: [0, 1],
  previous: [-1, 0],
};

function group(
  state: ConsumerGroupState,
  userData: Buffer,
  protocol = 'ReadstatesCoPartitioned',
): GroupDescription {
  const memberAssignment = AssignerProtocol.MemberAssignment.encode({ version: 1, assignment: {}, userData });
  return {
    groupId: 'g',
    protocol,
    protocolType: 'consumer',
    state,
    members: ['m1', 'm2'].map((memberId) => ({
      memberId,
      clientId: 'c',
      clientHost: 'h',
      memberMetadata: Buffer.alloc(0),
      memberAssignment,
    })),
  };
}

/** A consumer whose describeGroup answers `descriptions` in turn (the last one for ever). */
function describing(descriptions: GroupDescription[]) {
  let asked = 0;
  return {
    asked: () => asked,
    describeGroup: () =>
      Promise.resolve(descriptions[Math.min(asked++, descriptions.length - 1)] as GroupDescription),
  };
}

const log = createLogger('silent');

describe('readClusterMap', () => {
  it('hands over the map once the group is stable, asking again until then', async () => {
    const consumer = describing([
      group('PreparingRebalance', Buffer.alloc(0)),
      group('Stable', encodeClusterMap(map)),
    ]);
    const seen: ClusterMap[] = [];
    await readClusterMap(consumer, { current: () => true, onMap: (found) => seen.push(found), log });
    expect(seen).toEqual([map]);
    expect(consumer.asked()).toBe(2);
  });

  it('takes no map from another protocol, nor garbage, and stops once a newer join came', async () => {
    for (const description of [
      group('Stable', encodeClusterMap(map), 'RoundRobinAssigner'),
      group('Stable', Buffer.from('{"v":2}')),
    ]) {
      const consumer = describing([description]);
      let current = true;
      const seen: ClusterMap[] = [];
      const reading = readClusterMap(consumer, {
        current: () => current,
        onMap: (found) => seen.push(found),
        log,
      });
      await new Promise((resolve) => setTimeout(resolve, 350));
      current = false;
      await reading;
      expect(seen).toEqual([]);
      expect(consumer.asked()).toBeGreaterThan(1);
    }
  });

  it('drops a map read after a newer join came', async () => {
    let current = true;
    const consumer = {
      describeGroup: () => {
        current = false;
        return Promise.resolve(group('Stable', encodeClusterMap(map)));
      },
    };
    const seen: ClusterMap[] = [];
    await readClusterMap(consumer, { current: () => current, onMap: (found) => seen.push(found), log });
    expect(seen).toEqual([]);
  });
});
