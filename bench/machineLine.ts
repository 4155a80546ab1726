import os from 'node:os';

/** The machine a benchmark ran on, as its report's closing line says it: cores, Node, load average. */
export function machineLine(loadAtStart?: number): string {
  const cpus = os.cpus();
  const load = os.loadavg()[0]?.toFixed(2) ?? '?';
  return (
    `Machine: ${cpus.length} CPUs (${cpus[0]?.model.trim() ?? '?'}), Node ${process.version}; load average ` +
    (loadAtStart === undefined ? `${load} at end` : `${loadAtStart.toFixed(2)} at start, ${load} at end`)
  );
}
