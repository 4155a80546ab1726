#!/usr/bin/env node
/** `readstates <command>`: the one entry point for operators. */
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from './config.ts';
import { createDatabasePool } from './ops/database.ts';
import { migrate } from './ops/migrate.ts';

const usage = `Usage: readstates <command>

Commands:
  serve      run the projector and the HTTP API (configured by environment variables; see README.md)
  migrate    apply database migrations and exit
`;

const commands: Record<string, (args: string[]) => Promise<void>> = {
  async serve() {
    const { serve } = await import('./main.ts');
    await serve(loadConfig());
  },
  async migrate() {
    const pool = createDatabasePool(loadConfig().DATABASE_URL);
    try {
      await migrate(pool);
      console.log('migrations applied');
    } finally {
      await pool.dispose();
    }
  },
};

async function main(argv: string[]): Promise<void> {
  const { positionals } = parseArgs({ args: argv, allowPositionals: true, strict: false });
  const [name, ...rest] = positionals;
  const command = name === undefined ? undefined : commands[name];
  if (command === undefined) {
    process.stderr.write(
      name === undefined || name === 'help' ? usage : `Unknown command "${name}".\n\n${usage}`,
    );
    process.exitCode = name === undefined || name === 'help' ? 0 : 2;
    return;
  }
  await command(rest);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
    process.exitCode = 2;
  } else {
    process.stderr.write(
      `readstates: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = 1;
  }
});
