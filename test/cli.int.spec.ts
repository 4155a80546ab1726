/** `readstates` as an operator types it: help and mistakes get the usage, never a stack trace. */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const cliPath = fileURLToPath(new URL('../src/cli.ts', import.meta.url));

function cli(...args: string[]): { status: number | null; stderr: string } {
  const { status, stderr } = spawnSync(process.execPath, [cliPath, ...args], { encoding: 'utf8' });
  return { status, stderr };
}

describe('readstates CLI', () => {
  it.each(
    [[], ['help'], ['--help'], ['publish-demo', '--help'], ['status', '-h']].map((args) => ({
      line: `readstates ${args.join(' ')}`,
      args,
    })),
  )('shows the usage for "$line" and exits 0', ({ args }) => {
    const { status, stderr } = cli(...args);
    expect(stderr).toMatch(/^Usage: readstates <command>/);
    expect(status).toBe(0);
  });

  it('names an unknown option or command, shows the usage and exits 2', () => {
    const option = cli('status', '--bogus');
    expect(option.stderr).toMatch(/^Unknown option '--bogus'[\s\S]*Usage: readstates/);
    expect(option.stderr).not.toMatch(/\bat \w+ \(/);
    expect(option.status).toBe(2);
    const command = cli('nope');
    expect(command.stderr).toMatch(/^Unknown command "nope"/);
    expect(command.status).toBe(2);
  });
});
