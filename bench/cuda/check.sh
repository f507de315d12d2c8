#!/usr/bin/env bash
# CUDA check: builds the addon with g++ against the PyTorch installation found
# by python3 (its bundled CUDA libtorch, i.e. the LIBTORCH layout) and runs
# bench/cuda/cuda-check.mjs: ops, gradients and training steps of the two
# reference children on CUDA against the CPU. Needs a built dist/ and
# node_modules/node-addon-api. Where node is missing (a bare GPU machine), it
# unpacks .device/node.xz (a copy of this machine's node binary, xz-compressed).
set -euo pipefail
if ! command -v node >/dev/null 2>&1; then
  mkdir -p /tmp/n && xz -dc .device/node.xz > /tmp/n/node && chmod +x /tmp/n/node && export PATH=/tmp/n:$PATH
fi
TORCH=$(python3 -c "import torch,os;print(os.path.dirname(torch.__file__))")
ABI=$(python3 -c "import torch;print(int(torch._C._GLIBCXX_USE_CXX11_ABI))")
NODE_INC=${NODE_INCLUDE:-.device/node-include}
mkdir -p native/build/Release /tmp/obj
FLAGS="-O2 -fPIC -std=c++17 -fexceptions -frtti -DNAPI_VERSION=8 -DNAPI_CPP_EXCEPTIONS -DNODE_ADDON_API_DISABLE_DEPRECATED -D_GLIBCXX_USE_CXX11_ABI=$ABI -I$NODE_INC -Inode_modules/node-addon-api -I$TORCH/include -I$TORCH/include/torch/csrc/api/include -Wno-deprecated-declarations"
for f in tensor ops optim; do g++ $FLAGS -c native/$f.cc -o /tmp/obj/$f.o & done; wait
g++ -shared /tmp/obj/*.o -L$TORCH/lib -Wl,-rpath,$TORCH/lib -Wl,--no-as-needed -ltorch_cuda -lc10_cuda -Wl,--as-needed -ltorch -ltorch_cpu -lc10 -o native/build/Release/autodropout_torch.node
echo "built against $TORCH (cxx11 abi $ABI)"
node bench/cuda/cuda-check.mjs | tee "${OUT:-/tmp}/cuda-check.json"
