#!/usr/bin/env node
// Builds native/ (the libtorch binding) during `npm install`.
// libtorch is found in this order: the directory named by $LIBTORCH (an
// official CPU or CUDA libtorch zip, cxx11 ABI), then Debian/Ubuntu's
// libtorch-dev under /usr. Nothing is downloaded.
import { existsSync, readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

export function findLibtorch(env = process.env) {
  const tried = [];
  const candidates = [];
  if (env.LIBTORCH) candidates.push({ kind: 'LIBTORCH', include: join(env.LIBTORCH, 'include'), lib: join(env.LIBTORCH, 'lib') });
  candidates.push({ kind: 'debian', include: '/usr/include', lib: '/usr/lib/x86_64-linux-gnu' });
  candidates.push({ kind: 'debian', include: '/usr/include', lib: '/usr/lib/aarch64-linux-gnu' });
  for (const c of candidates) {
    const header = join(c.include, 'torch/csrc/api/include/torch/torch.h');
    const lib = join(c.lib, 'libtorch_cpu.so');
    tried.push(`${header} + ${lib}`);
    if (existsSync(header) && existsSync(lib)) {
      const cuda = existsSync(join(c.lib, 'libtorch_cuda.so'));
      return { ...c, cuda, tried };
    }
    if (c.kind === 'LIBTORCH') break; // an explicit LIBTORCH that is wrong must not silently fall back
  }
  return { tried };
}

/**
 * libtorch builds come with the old (pre-C++11) or the new std::string ABI;
 * the addon must match. A library that exports '__cxx11' symbols uses the new one.
 */
function cxx11Abi(libDir) {
  if (process.env.ADT_CXX11_ABI === '0' || process.env.ADT_CXX11_ABI === '1') return process.env.ADT_CXX11_ABI;
  const r = spawnSync('nm', ['-D', '--defined-only', join(libDir, 'libc10.so')], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (r.status !== 0) return '1';
  return r.stdout.includes('__cxx11') ? '1' : '0';
}

function fail(message) {
  console.error(`\nautodropout: cannot build the native engine.\n${message}\n`);
  process.exit(1);
}

function main() {
  const found = findLibtorch();
  if (!found.include) {
    fail(
      `libtorch was not found. Paths tried:\n  ${found.tried.join('\n  ')}\n\n` +
        'Get it one of two ways:\n' +
        '  1. Debian/Ubuntu: apt-get install libtorch-dev libopenblas0-pthread   (or run ./setup)\n' +
        '  2. Any system: unpack an official libtorch build (CPU or CUDA, cxx11 ABI) and\n' +
        '     set LIBTORCH=/path/to/libtorch before npm install.',
    );
  }
  const includes = [join(found.include), join(found.include, 'torch/csrc/api/include')];
  const libs = [`-L${found.lib}`, `-Wl,-rpath,${found.lib}`];
  // --no-as-needed keeps libtorch_cuda linked although no symbol of it is
  // referenced directly: its kernels register themselves at load time.
  if (found.cuda) libs.push('-Wl,--no-as-needed', '-ltorch_cuda', '-lc10_cuda', '-Wl,--as-needed');
  libs.push('-ltorch', '-ltorch_cpu', '-lc10');
  const gypBin = process.env.npm_config_node_gyp ?? join(dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js');
  if (!existsSync(gypBin)) fail(`node-gyp not found at ${gypBin}; run the build through npm (npm ci / npm rebuild).`);
  const env = { ...process.env, ADT_TORCH_INCLUDES: includes.join(' '), ADT_TORCH_LIBS: libs.join(' '), ADT_TORCH_DEFINES: `_GLIBCXX_USE_CXX11_ABI=${cxx11Abi(found.lib)}` };
  require.resolve('node-addon-api');
  console.log(`autodropout: building the libtorch binding against ${found.kind === 'LIBTORCH' ? process.env.LIBTORCH : 'Debian libtorch-dev'}${found.cuda ? ' (CUDA)' : ''}`);
  const jobs = process.env.JOBS ?? 'max';
  const r = spawnSync(process.execPath, [gypBin, 'rebuild', `--jobs=${jobs}`], { cwd: join(root, 'native'), env, stdio: 'inherit' });
  if (r.status !== 0) fail('node-gyp failed (see the compiler output above).');
  const built = join(root, 'native/build/Release');
  if (!existsSync(built) || !readdirSync(built).includes('autodropout_torch.node')) fail('the build produced no autodropout_torch.node');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main();
