import { randomBytes } from 'node:crypto';

/** Names unique to one test file's run: topics, consumer groups, databases never collide across files or runs. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
}
