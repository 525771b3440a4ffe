#!/usr/bin/env bash
# Run on the development machine (which reaches npm) before tools/gpu_check.sh on a GPU machine (which
# reaches nothing). Fills .deno-bin/ (gitignored; name it in the device tool's carry list):
#   .deno-bin/deno.xz          this machine's deno, xz-compressed (about 30 MB instead of about 95):
#                              xz -T2 -9 -c "$(readlink -f "$(which deno)")" > .deno-bin/deno.xz
#   .deno-bin/deno_dir.tar.xz  a DENO_DIR with the npm packages the GPU check's tests import (under 1 MB),
#                              resolved with tools/gpu_deno.json, which maps only those
#   .deno-bin/vulkan/          Debian's Vulkan loader (libvulkan.so.1), for tools/gpu_check_webgpu.sh on a
#                              machine without one
#
#   bash tools/gpu_prepare.sh
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .deno-bin
deno_bin=$(readlink -f "$(command -v deno)")
if [ ! -f .deno-bin/deno.xz ] || [ "$deno_bin" -nt .deno-bin/deno.xz ]; then
  xz -T2 -9 -c "$deno_bin" >.deno-bin/deno.xz.tmp
  mv .deno-bin/deno.xz.tmp .deno-bin/deno.xz
fi
# Only the packages these files import (tools/gpu_deno.json maps them), not the project's whole npm set. Packed
# as an archive: a DENO_DIR folder in the tree would be read by `deno fmt`, `deno lint` and `deno check`.
deno_dir=$(mktemp -d)
trap 'rm -rf "$deno_dir"' EXIT
DENO_DIR="$deno_dir" deno cache --no-lock --config tools/gpu_deno.json tests/cudnn_*_test.ts \
  tests/_cudnn_probe_child.ts tests/parity_test.ts tests/bn_relu_test.ts bench/at_step_gpu.ts
tar -C "$deno_dir" -cJf .deno-bin/deno_dir.tar.xz npm
rm -rf .deno-bin/deno_dir
# The Vulkan loader from Debian's libvulkan1 (the GPU machine may have NVIDIA's driver but no loader).
if [ ! -f .deno-bin/vulkan/libvulkan.so.1 ]; then
  deb_dir=$(mktemp -d)
  (cd "$deb_dir" && apt-get download libvulkan1 >/dev/null && dpkg-deb -x libvulkan1_*.deb root)
  mkdir -p .deno-bin/vulkan
  cp -L "$deb_dir"/root/usr/lib/x86_64-linux-gnu/libvulkan.so.1 .deno-bin/vulkan/
  rm -rf "$deb_dir"
fi
du -sh .deno-bin/deno.xz .deno-bin/deno_dir.tar.xz .deno-bin/vulkan
echo "ready: run 'bash tools/gpu_check.sh' (cudnn) or 'bash tools/gpu_check_webgpu.sh' on the GPU machine with .deno-bin carried along"
