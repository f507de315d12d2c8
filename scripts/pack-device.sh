#!/usr/bin/env bash
# Packs what a bare GPU machine needs to build and run this project into
# .device/ (ignored by git), for bench/gpu/device.sh: this machine's node
# binary (xz), the Node-API headers and gyp files node-gyp builds against,
# npm's node-gyp with its dependencies (xz tarball), and the node_modules the
# engine, the models, the patterns and the addon build load (xz tarball).
# The GPU machine has no Node and no network; its device run carries .device
# and dist/ (npm run build first). About 35 MB in all.
set -euo pipefail
cd "$(dirname "$0")/.."
node_bin=$(readlink -f "$(command -v node)")
headers=$(dirname "$(dirname "$node_bin")")/include/node
npm_dir=$(npm root -g)/npm
mkdir -p .device
[ -f .device/node.xz ] && [ .device/node.xz -nt "$node_bin" ] || xz -T0 -6 -c "$node_bin" > .device/node.xz
# Node-API only (NAPI_VERSION 8): its headers and the gyp files, not V8's or OpenSSL's.
rm -rf .device/node-prefix && mkdir -p .device/node-prefix/include/node
for f in node_api.h node_api_types.h js_native_api.h js_native_api_types.h node_version.h common.gypi config.gypi; do
  cp "$headers/$f" .device/node-prefix/include/node/
done
tar -C "$(dirname "$npm_dir")" -cJf .device/npm.tar.xz npm
# What dist/src/{engine,models,layers,patterns,nn,util} import, and the addon's build.
modules=(node-addon-api pngjs ajv $(node -p "Object.keys(require('./node_modules/ajv/package.json').dependencies ?? {}).join(' ')"))
tar -C node_modules -cJf .device/node_modules.tar.xz "${modules[@]}"
du -sh .device/* | sed 's/^/pack-device: /'
