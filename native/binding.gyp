{
  # Paths come from scripts/build-native.mjs, which finds libtorch (Debian's
  # libtorch-dev or the directory named by LIBTORCH) and exports them.
  "targets": [
    {
      "target_name": "autodropout_torch",
      "sources": ["tensor.cc", "ops.cc", "optim.cc", "fused.cc"],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!@(node -p \"process.env.ADT_TORCH_INCLUDES\")"
      ],
      "libraries": ["<!@(node -p \"process.env.ADT_TORCH_LIBS\")"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++14"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-frtti", "-O2", "-Wno-deprecated-declarations", "-Wno-unused-parameter"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED", "<!(node -p \"process.env.ADT_TORCH_DEFINES || '_GLIBCXX_USE_CXX11_ABI=1'\")"]
    }
  ]
}
