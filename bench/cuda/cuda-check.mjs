// Runs the engine on CUDA and compares with the CPU: ops, gradients, and
// training steps of the reference children.
import * as E from '../../dist/src/engine/index.js';
import { createModel } from '../../dist/src/models/index.js';
const { ops } = E;
const runtime = E.runtimeInfo();
delete runtime.config;
const out = { runtime, checks: {} };
const maxDiff = (a, b) => { const x = a.data(), y = b.data(); let m = 0; for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i])); return m; };
const gen = new E.Generator(0);
function both(fn) { E.setDefaultDevice('cpu'); const c = E.tidy(() => ops.to(fn('cpu'), undefined, 'cpu')).keep(); E.setDefaultDevice('cuda'); const g = E.tidy(() => ops.to(fn('cuda'), undefined, 'cpu')).keep(); E.setDefaultDevice('cpu'); const d = maxDiff(c, g); c.dispose(); g.dispose(); return d; }
const a = ops.randn([64, 128], gen).keep(), b = ops.randn([128, 32], gen).keep(), x = ops.randn([8, 3, 17, 13], gen).keep(), w = ops.randn([6, 3, 3, 3], gen).keep();
const dev = (t, d) => ops.to(t, undefined, d);
out.checks.matmul = both((d) => ops.matmul(dev(a, d), dev(b, d)));
out.checks.conv2d = both((d) => ops.conv2d(dev(x, d), dev(w, d), undefined, { stride: 2, padding: 1 }));
out.checks.conv2dGrad = both((d) => { const wd = E.requiresGrad(ops.detach(dev(w, d))); E.backward(ops.sum(ops.square(ops.conv2d(dev(x, d), wd, undefined, { padding: 1 })))); return E.grad(wd); });
out.checks.batchNorm = both((d) => ops.batchNorm(dev(x, d), { training: true }));
out.checks.crossEntropy = both((d) => ops.crossEntropy(dev(a, d), ops.to(E.tensor(new Int32Array(64).fill(3), [64]), 'int64', d)));
function steps(name, device, n) {
  E.useDevice(device);
  const g = new E.Generator(0);
  const isLm = name.startsWith('tlm');
  const m = createModel(name, isLm ? { vocabSize: 10000, maxLen: 64 } : { inChannels: 3, numClasses: 10 }, g);
  const opt = isLm ? E.adamw(m.parameters(), { lr: 1e-3 }) : E.sgd(m.parameters(), { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 5e-4 });
  const xs = isLm ? ops.randint(0, 10000, [32, 64], g) : ops.randn([64, 3, 32, 32], g);
  const ys = isLm ? ops.randint(0, 10000, [32 * 64], g) : ops.randint(0, 10, [64], g);
  const losses = [], times = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    losses.push(E.tidy(() => { opt.zeroGrad(); const logits = m.forward(xs); const l = isLm ? ops.crossEntropy(ops.reshape(logits, [-1, 10000]), ys) : ops.crossEntropy(logits, ys); E.backward(l); opt.step(); return l.item(); }));
    times.push(performance.now() - t0);
  }
  m.dispose(); xs.dispose(); ys.dispose(); E.setDefaultDevice('cpu');
  return { losses, medianStepMs: times.slice(2).sort((p, q) => p - q)[Math.floor((n - 2) / 2)], live: E.liveTensorCount() };
}
for (const name of ['wrn-16-2', 'tlm-2-128']) {
  const cpu = steps(name, 'cpu', 4), cuda = steps(name, 'cuda', 12);
  out.checks[name] = { cpuLosses: cpu.losses, cudaLosses: cuda.losses.slice(0, 4), firstLossDiff: Math.abs(cpu.losses[0] - cuda.losses[0]), cudaLossFalls: cuda.losses[11] < cuda.losses[0], cpuStepMs: cpu.medianStepMs, cudaStepMs: cuda.medianStepMs, live: cuda.live };
}
console.log(JSON.stringify(out, null, 1));
