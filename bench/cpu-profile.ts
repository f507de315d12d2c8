// A V8 CPU profile (`node --cpu-prof`) summarised as text: the functions that
// took the most time on their own (self) and with everything they called
// (inclusive), as milliseconds and shares of the profile. The shares quoted
// for the coordinator in the README ("Running on many machines") come from
// this summary of bench/search-scale's profiled run.
//
//   node dist/bench/cpu-profile.js FILE.cpuprofile [TOP]     (TOP: rows per list, default 30)
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const [file, topArg] = process.argv.slice(2);
const top = Number(topArg ?? 30);
if (!file || !Number.isInteger(top) || top < 1) {
  process.stderr.write('usage: node dist/bench/cpu-profile.js FILE.cpuprofile [TOP]\n');
  process.exit(2);
}
let p: Profile;
try {
  p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  if (!Array.isArray(p.nodes) || !Array.isArray(p.samples) || !Array.isArray(p.timeDeltas)) throw new Error('no nodes, samples and timeDeltas: not a .cpuprofile');
} catch (e) {
  process.stderr.write(`cpu-profile: ${file}: ${(e as Error).message}\n`);
  process.exit(1);
}

const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
/** Microseconds per node: each sample's time delta goes to the node it hit. */
const timeOf = new Map<number, number>();
p.samples.forEach((id, i) => timeOf.set(id, (timeOf.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
const total = [...timeOf.values()].reduce((a, b) => a + b, 0);
const label = (n: ProfileNode): string => `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.replace(/.*\/(dist|node_modules)\//, '$1/')}:${n.callFrame.lineNumber + 1}`;

const self = new Map<string, number>();
const inclusive = new Map<string, number>();
for (const [id, t] of timeOf) {
  const k = label(byId.get(id)!);
  self.set(k, (self.get(k) ?? 0) + t);
  // Each function once per sample, however deep it recurses.
  const seen = new Set<string>();
  for (let c: number | undefined = id; c !== undefined; c = parent.get(c)) {
    const key = label(byId.get(c)!);
    if (seen.has(key)) continue;
    seen.add(key);
    inclusive.set(key, (inclusive.get(key) ?? 0) + t);
  }
}
const rows = (m: Map<string, number>): string[] =>
  [...m]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([k, t]) => `${(t / 1000).toFixed(0).padStart(8)} ms ${((100 * t) / total).toFixed(1).padStart(5)} %  ${k}`);
process.stdout.write([`${file}: ${(total / 1000).toFixed(0)} ms sampled`, '--- self', ...rows(self), '--- inclusive', ...rows(inclusive)].join('\n') + '\n');
