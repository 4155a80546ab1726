import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { RankIndexId } from '../../src/projection/records.ts';
import {
  channelRecordId,
  indexHeaderRecordId,
  indexNodeRecordId,
  keyOfRecordId,
  messageRecordId,
  readStateRecordId,
  recordIdOfKey,
} from '../../src/store/recordIds.ts';
import { channelKey, indexHeaderKey, indexNodeKey, messageKey, readStateKey } from '../../src/store/keys.ts';

const snowflake = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(String);

describe('record ids', () => {
  it('name the same record as the RocksDB key, both ways', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 9_999 }),
        snowflake,
        snowflake,
        snowflake,
        fc.constantFrom('live', 'own', 'mentions'),
        fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        (partition, channel, other, user, kind, node) => {
          const index = (
            kind === 'live' ? { kind, channel_id: channel } : { kind, channel_id: channel, user_id: user }
          ) as RankIndexId;
          const member = {
            kind: kind === 'live' ? 'own' : kind,
            channel_id: channel,
            user_id: user,
          } as const;
          const cases: [string, Buffer][] = [
            [channelRecordId(channel), channelKey(partition, channel)],
            [messageRecordId(channel, other), messageKey(partition, channel, other)],
            [readStateRecordId(user, channel), readStateKey(partition, user, channel)],
            [indexHeaderRecordId(member), indexHeaderKey(partition, member)],
            [indexNodeRecordId(index, node), indexNodeKey(partition, index, node)],
          ];
          for (const [id, key] of cases) {
            expect(keyOfRecordId(partition, id).equals(key)).toBe(true);
            expect(recordIdOfKey(key)).toEqual({ id, channel });
          }
        },
      ),
    );
  });
});
