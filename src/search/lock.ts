// Who holds a study's lock (store.ts keeps it as pid, host and the time it
// was taken), and whether that process can still be the coordinator that took
// it. The store refuses a lock held by a live coordinator on this host
// whatever the caller asks, takes one left by a process that is gone without
// asking, and takes one held on another host only with `takeover` (it cannot
// see that host's processes: a database copied elsewhere, or a container with
// a new host name, leaves such a lock behind).
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

export interface StudyLock {
  pid: number;
  host: string;
  /** When the lock was taken (ms since the Unix epoch). */
  since: number;
}

/**
 * - `this-process`: ours;
 * - `alive-here`: a live process on this host that may be the coordinator that took it;
 * - `gone-here`: on this host, and that coordinator has exited (no such process,
 *   or the pid now belongs to a process started after the lock was taken);
 * - `other-host`: held on another host, whose processes this one cannot see.
 */
export type LockHolder = 'this-process' | 'alive-here' | 'gone-here' | 'other-host';

/**
 * How much later than the lock a process must have started to count as a
 * reused pid: /proc's boot time has one-second steps, and a small step of the
 * wall clock after the lock was taken must not make a live holder look new.
 */
export const PID_REUSE_SLACK_MS = 10_000;

/** Whether a process with this id exists on this host (EPERM: it exists, owned by someone else). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * When process `pid` started (ms since the Unix epoch), from Linux's /proc
 * (the boot time plus the start time in clock ticks, which Linux reports at
 * USER_HZ = 100 per second); null where /proc cannot tell (another system, or
 * the process is gone).
 */
export function processStartMs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces and parentheses): state is field 3, starttime field 22.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[22 - 3]);
    const bootSeconds = Number(/^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1]);
    if (!Number.isFinite(ticks) || !Number.isFinite(bootSeconds)) return null;
    return bootSeconds * 1000 + ticks * 10;
  } catch {
    return null;
  }
}

export function lockHolder(l: StudyLock): LockHolder {
  if (l.host !== hostname()) return 'other-host';
  if (l.pid === process.pid) return 'this-process';
  if (!pidAlive(l.pid)) return 'gone-here';
  // The coordinator started before it took the lock; a process started well after cannot be it.
  const started = processStartMs(l.pid);
  if (started !== null && started > l.since + PID_REUSE_SLACK_MS) return 'gone-here';
  return 'alive-here';
}
