# Built from source by scripts/build-native.mjs during `npm install` (no
# prebuilt download). Linux only: the calls it wraps are Linux/glibc ones; on
# another platform the build script skips it and the TypeScript wrapper falls back.
{
  "targets": [
    {
      "target_name": "mmo_native",
      "sources": ["src/mmo_native.cc"],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api"],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra"]
    }
  ]
}
