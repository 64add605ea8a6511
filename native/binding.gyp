{
  "targets": [
    {
      "target_name": "infravisor_netlink",
      "sources": ["src/nlparse.c", "src/addon.cc", "src/datagrams.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-fvisibility=hidden"],
      "cflags_cc": ["-O2", "-Wall", "-Wextra", "-std=c++17", "-fvisibility=hidden"]
    }
  ]
}
