// `autodropout doctor`: is the engine healthy, and fast?
import { availableParallelism } from 'node:os';
import { Generator, backward, grad, ops, requiresGrad, runtimeInfo, tidy, type RuntimeInfo } from '../engine/index.js';
import { TASKS } from '../train/task-names.js';
import { dataChecks, type Check, type DataProbeOptions } from './doctor-data.js';

export type { Check };

export interface DoctorReport {
  healthy: boolean;
  runtime: Omit<RuntimeInfo, 'config'>;
  cores: number;
  checks: Check[];
}

function selfTest(): Check {
  try {
    const err = tidy(() => {
      const gen = new Generator(1);
      // conv + matmul forward/backward against known identities.
      const a = ops.randn([3, 4], gen, 'float64');
      const b = ops.randn([4, 5], gen, 'float64');
      const mm = ops.matmul(a, b).data() as Float64Array;
      const ad = a.data() as Float64Array;
      const bd = b.data() as Float64Array;
      let maxErr = 0;
      for (let i = 0; i < 3; i++)
        for (let j = 0; j < 5; j++) {
          let s = 0;
          for (let k = 0; k < 4; k++) s += ad[i * 4 + k] * bd[k * 5 + j];
          maxErr = Math.max(maxErr, Math.abs(s - mm[i * 5 + j]));
        }
      const x = ops.randn([2, 3, 8, 8], gen);
      const w = ops.randn([4, 3, 3, 3], gen);
      requiresGrad(w);
      const y = ops.conv2d(x, w, undefined, { padding: 1 });
      backward(ops.sum(y));
      const g = grad(w);
      if (!g || g.shape.join() !== '4,3,3,3') throw new Error('conv2d backward produced no gradient');
      return maxErr;
    });
    if (err > 1e-9) return { name: 'self-test', status: 'fail', detail: `matmul differs from the reference by ${err}`, fix: 'reinstall libtorch (apt-get install --reinstall libtorch1.13) and run npm rebuild' };
    return { name: 'self-test', status: 'ok', detail: 'matmul matches a reference; conv2d forward/backward run' };
  } catch (e) {
    return { name: 'self-test', status: 'fail', detail: (e as Error).message, fix: 'reinstall libtorch and run npm rebuild autodropout' };
  }
}

/** `data` says where to look for datasets besides their default locations (doctor --data-dir). */
export function runDoctor(data: DataProbeOptions = {}): DoctorReport {
  const { config: _config, ...runtime } = runtimeInfo();
  const cores = availableParallelism();
  const checks: Check[] = [];
  checks.push({ name: 'libtorch', status: 'ok', detail: `version ${runtime.libtorchVersion} at ${runtime.libtorchPath ?? 'unknown path'}` });
  const blas = runtime.blas;
  if (blas.kind === 'reference' || blas.kind === 'unknown') {
    checks.push({
      name: 'blas',
      status: 'warn',
      detail: `BLAS is ${blas.kind} (${blas.library ?? 'not found'}): matrix products run about 10x slower than with OpenBLAS`,
      fix: 'apt-get install libopenblas0-pthread (Debian selects it as libblas.so.3 automatically)',
    });
  } else {
    checks.push({ name: 'blas', status: 'ok', detail: `${blas.kind} (${blas.library})` });
  }
  checks.push({ name: 'mkldnn', status: runtime.mkldnn ? 'ok' : 'warn', detail: runtime.mkldnn ? 'oneDNN convolutions available' : 'oneDNN not available: convolutions use slower kernels' });
  checks.push({
    name: 'threads',
    status: 'ok',
    detail: `${runtime.threads} intra-op threads by default${runtime.blasThreads !== null ? `, OpenBLAS ${runtime.blasThreads}` : ''}; ${cores} cores`,
  });
  checks.push({
    name: 'devices',
    status: 'ok',
    detail: runtime.cuda.available ? `cpu, cuda (${runtime.cuda.devices} device(s))` : 'cpu (this libtorch has no CUDA or no GPU is visible)',
  });
  checks.push(selfTest());
  checks.push(...dataChecks(TASKS, data));
  return { healthy: checks.every((c) => c.status !== 'fail'), runtime, cores, checks };
}

export function formatDoctor(r: DoctorReport): string {
  const mark = { ok: 'ok  ', info: 'info', warn: 'WARN', fail: 'FAIL' } as const;
  const lines = r.checks.map((c) => `[${mark[c.status]}] ${c.name}: ${c.detail}${c.fix ? `\n       fix: ${c.fix}` : ''}`);
  lines.push(r.healthy ? 'engine healthy' : 'engine NOT healthy: see the FAIL lines above');
  return lines.join('\n');
}
