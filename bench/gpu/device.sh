#!/usr/bin/env bash
# Everything the GPU issue's checks run on the GPU machine, in one command:
# unpack what scripts/pack-device.sh packed (node, Node-API headers, node-gyp,
# the runtime node_modules), build the addon the one way
# (scripts/build-native.mjs, with LIBTORCH = the libtorch bundled in python3's
# PyTorch, which has an official libtorch's include/ and lib/ layout), then
# run the numerical checks (bench/cuda/cuda-check.mjs) and bench:gpu, writing
# their JSON to $OUT. Needs .device/ and dist/ carried (npm run build; then
# scripts/pack-device.sh).
#
#   device run:  bash bench/gpu/device.sh            (carry: .device, dist)
#   here, a CPU smoke test of the same steps:
#                LIBTORCH= DEVICE=cpu SMALL=1 PYTHON=/usr/bin/python3 bash bench/gpu/device.sh
# (LIBTORCH set and empty: build against Debian's libtorch-dev instead;
# PYTHON: a python3 with torch, Debian's python3-torch here.)
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/gpu-out}
DEVICE=${DEVICE:-cuda}
PYTHON=${PYTHON:-python3}
mkdir -p "$OUT"
stage=/tmp/autodropout-device
mkdir -p "$stage/bin"
if ! command -v node >/dev/null 2>&1; then
  xz -dc .device/node.xz > "$stage/bin/node" && chmod +x "$stage/bin/node"
  export PATH=$stage/bin:$PATH
fi
[ -d "$stage/npm" ] || tar -C "$stage" -xJf .device/npm.tar.xz
[ -d node_modules/node-addon-api ] || { mkdir -p node_modules && tar -C node_modules -xJf .device/node_modules.tar.xz; }
if [ -z "${LIBTORCH+set}" ]; then
  LIBTORCH=$("$PYTHON" -c "import torch, os; print(os.path.dirname(torch.__file__))")
  export LIBTORCH
fi
echo "device.sh: node $(node --version), $PYTHON with torch $("$PYTHON" -c 'import torch; print(torch.__version__)'), LIBTORCH=${LIBTORCH:-(Debian libtorch-dev)}"
npm_config_node_gyp=$stage/npm/node_modules/node-gyp/bin/node-gyp.js npm_config_nodedir=$PWD/.device/node-prefix \
  node scripts/build-native.mjs 2>&1 | tail -n 15 | tee "$OUT/build.log"
node --input-type=module -e "const e = await import('./dist/src/engine/index.js'); const r = e.runtimeInfo(); delete r.config; console.log(JSON.stringify(r))" | tee "$OUT/runtime.json"
if [ "$DEVICE" = cuda ]; then
  node bench/cuda/cuda-check.mjs > "$OUT/cuda-check.json"
fi
node dist/bench/gpu/run.js --device "$DEVICE" --python "$PYTHON" ${SMALL:+--small --steps 2 --warmup 1} --out "$OUT/gpu.json"
