import type { z } from 'zod';

/** `mention_user_ids[3]` style: what a publisher would write to reach the field. */
function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out === '' ? '(value)' : out;
}

/**
 * One line per problem, each naming the field first: `channel_id: must be a decimal string…`. At most `limit`
 * lines, then a count of the rest, so a record with a thousand bad mentions still gives a short message.
 */
export function describeIssues(issues: readonly z.core.$ZodIssue[], limit: number): string[] {
  const lines = issues.slice(0, limit).map((issue) => `${formatPath(issue.path)}: ${issue.message}`);
  if (issues.length > limit) lines.push(`and ${issues.length - limit} more`);
  return lines;
}
