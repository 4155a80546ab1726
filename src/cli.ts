#!/usr/bin/env node
/**
 * The `readstates` command. Only this runs before the modules load (half a second): a stop asked for meanwhile is
 * a clean exit, since nothing is open yet, rather than a death by signal. main.ts takes the signals over.
 */
if (process.argv[2] === 'serve') {
  const stopNow = () => process.exit(0);
  process.once('SIGTERM', stopNow);
  process.once('SIGINT', stopNow);
}
await import('./cliCommands.ts');
