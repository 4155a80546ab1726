/**
 * `npm run soak [-- --kills N]`: the crash test at length, with every kind of hostile record (issue 10,
 * item 11). N times (default 100): start `readstates serve`, publish a cycle of the seeded stream with 1%
 * hostile records (test/support/hostileRecords.ts, each kind in turn), SIGKILL the service at a random moment
 * after it joined its group. Then one clean start consumes to the end, and every read state is compared with
 * the reference model and every dead letter with what was sent. Not in `npm test`: at ~10 s a kill, 100 kills
 * take 20 minutes or more; CI keeps test/crash.e2e.spec.ts's 20 (the same loop, test/support/crashLoop.ts).
 *
 * Prints progress and a summary as markdown tables, then one JSON line:
 * {"kills":…,"mismatches":…,"dead_letters_expected":…,"dead_letters_found":…,"duplicates":…, …}
 * Exits 1 if anything is off. Kafka and PostgreSQL are found as the integration tests find them
 * (KAFKA_BROKERS / DATABASE_URL, else Docker, else the local ones; test/support/infrastructure.ts).
 */
import { parseArgs } from 'node:util';
import { printTable } from '../../bench/markdownTable.ts';
import { seededRandom } from '../../src/ops/seededRandom.ts';
import { createFaultHarness, type FaultHarness } from '../faults/support/faultHarness.ts';
import { crashLoop } from '../support/crashLoop.ts';
import { HOSTILE_KINDS } from '../support/hostileRecords.ts';
import { resolveKafka, resolvePostgres, type Service } from '../support/infrastructure.ts';
import { freePort, startService } from '../support/serviceProcess.ts';

const { values } = parseArgs({
  options: {
    kills: { type: 'string', default: '100' },
    'events-per-cycle': { type: 'string', default: '1500' },
    'hostile-rate': { type: 'string', default: '0.01' },
    seed: { type: 'string', default: '1' },
  },
});
function wholeNumber(name: 'kills' | 'events-per-cycle' | 'seed'): number {
  const value = Number(values[name]);
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a whole number from 1 up`);
  return value;
}
const kills = wholeNumber('kills');
const eventsPerCycle = wholeNumber('events-per-cycle');
const seed = wholeNumber('seed');
const hostileRate = Number(values['hostile-rate']);
if (!(hostileRate >= 0 && hostileRate < 1)) throw new Error('--hostile-rate must be at least 0 and below 1');

const started = Date.now();
const seconds = () => Math.round((Date.now() - started) / 1000);
let kafka: Service<string[]> | undefined;
let postgres: Service<string> | undefined;
let harness: FaultHarness | undefined;

async function cleanUp(): Promise<void> {
  await harness?.close().catch((error: unknown) => {
    console.error('soak: closing the harness failed:', error);
  });
  await Promise.all([kafka?.stop(), postgres?.stop()]);
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`soak: ${signal}; removing topics, database and data directory`);
    void cleanUp().finally(() => process.exit(130));
  });
}

async function soak(): Promise<boolean> {
  [kafka, postgres] = await Promise.all([resolveKafka(), resolvePostgres()]);
  console.log(`soak: Kafka ${kafka.value.join(',')} (${kafka.source}), PostgreSQL (${postgres.source})`);
  console.log(
    `soak: ${kills} kills, ${eventsPerCycle} events a cycle, ${hostileRate * 100}% hostile records, seed ${seed}\n`,
  );
  harness = await createFaultHarness({
    name: 'soak',
    brokers: kafka.value,
    postgresUrl: postgres.value,
    seed,
    channels: 20,
    users: 60,
  });
  const h = harness;
  const port = await freePort();

  const progress: string[][] = [];
  const progressHeaders = ['kills', 'seconds', 'valid events', 'hostile records', 'records applied'];
  const result = await crashLoop({
    name: 'soak',
    env: h.env,
    port,
    kills,
    publish: async () => {
      await h.publish(eventsPerCycle, { hostileRate });
    },
    appliedSoFar: () => h.appliedSoFar(),
    random: (() => {
      const uint32 = seededRandom(seed + 3);
      return () => uint32() / 4294967296;
    })(),
    onKill: async (cycle) => {
      if (cycle.kill % 10 !== 0 && cycle.kill !== kills) return;
      const applied = await h.appliedSoFar();
      const { valid, hostile } = h.published();
      const row = [cycle.kill, seconds(), valid, hostile, applied].map(String);
      progress.push(row);
      console.log(`soak: ${row.map((cell, i) => `${progressHeaders[i] ?? ''} ${cell}`).join(', ')}`);
    },
  });
  console.log('');
  printTable(progressHeaders, progress);

  console.log('\nsoak: final start; consuming to the end');
  const service = await startService('soak', h.env, port);
  const consumed = async () => {
    await h.caughtUp(600_000);
    await h.waitReady(service.url, 120_000);
    return h.countMismatches(service.url);
  };
  const comparison = await consumed().catch(async (error: unknown) => {
    await service.stop();
    throw error;
  });
  const exitCode = await service.stop();
  const audit = await h.auditDeadLetters();
  const kinds = h.kindsSent();

  console.log('');
  printTable(
    ['measure', 'value'],
    [
      ['SIGKILLs', String(result.cycles.length)],
      ['kills after the service had applied events', String(result.cyclesThatApplied)],
      ['cycles the service ended on its own', String(result.unexpectedExits.length)],
      ['valid events published', String(h.published().valid)],
      ['hostile records published', String(h.published().hostile)],
      ['hostile kinds covered', `${kinds.size} of ${HOSTILE_KINDS.length}`],
      ['read states and listings compared', String(comparison.compared)],
      ['mismatches with the reference model', String(comparison.mismatches)],
      ['dead letters expected', String(audit.expected)],
      ['dead letters found', String(audit.found)],
      ['duplicate dead letters', String(audit.duplicates)],
      ['dead letters with the wrong code', String(audit.wrongCode.length)],
      ['dead letters with other bytes than sent', String(audit.wrongBytes.length)],
      ['dead letters for valid records', String(audit.unexpected.length)],
      ['final stop exit code', String(exitCode)],
      ['seconds', String(seconds())],
    ],
  );
  const problems = [...result.unexpectedExits.map((c) => `cycle ${c.kill} ended by exit code ${c.exitCode}`)];
  problems.push(...comparison.first, ...audit.problems.slice(0, 20));
  if (exitCode !== 0) problems.push(`the final stop exited with ${exitCode}`);
  if (result.cyclesThatApplied < kills / 2)
    problems.push(
      `only ${result.cyclesThatApplied} of ${kills} kills landed after the service applied events`,
    );
  if (problems.length > 0) console.log(`\nsoak: problems (first ones):\n  ${problems.join('\n  ')}`);
  console.log(
    JSON.stringify({
      kills: result.cycles.length,
      mismatches: comparison.mismatches,
      dead_letters_expected: audit.expected,
      dead_letters_found: audit.found,
      duplicates: audit.duplicates,
      wrong_code: audit.wrongCode.length,
      wrong_bytes: audit.wrongBytes.length,
      unexpected_dead_letters: audit.unexpected.length,
      kills_after_applying: result.cyclesThatApplied,
      seconds: seconds(),
    }),
  );
  return problems.length === 0;
}

try {
  process.exitCode = (await soak()) ? 0 : 1;
} catch (error) {
  console.error('soak: failed:', error);
  process.exitCode = 1;
} finally {
  await cleanUp();
}
