#!/usr/bin/env bash
# The webgpu backend's check on a lent GPU machine, as one command (about 2-5 minutes), after
# tools/gpu_prepare.sh filled .deno-bin/ (deno, the offline npm packages and Debian's Vulkan loader):
#
#   bash tools/gpu_check_webgpu.sh
#
# Deno's WebGPU reaches an NVIDIA card through Vulkan: the loader libvulkan.so.1 (carried in
# .deno-bin/vulkan/ when the machine has none) and NVIDIA's ICD, libGLX_nvidia.so.0. When the driver
# installed no ICD manifest, one is written that names that library. The script
#   1. prints the adapter Deno's WebGPU gets (it must not be llvmpipe for the figures to mean anything);
#   2. runs the PyTorch parity suite and the fused batch norm + ReLU check with AT_BACKEND=webgpu;
#   3. times the WRN-16-1 <- WRN-16-2 attention-transfer step at batch 128 on the webgpu backend.
# The log goes to $OUT/gpu_check_webgpu.log (else a temporary folder).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
LOG_NAME=gpu_check_webgpu.log
# shellcheck source=tools/_gpu_env.sh
source tools/_gpu_env.sh

phase "Vulkan loader and NVIDIA ICD"
if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1'; then
  if [ -d .deno-bin/vulkan ]; then
    export LD_LIBRARY_PATH="$PWD/.deno-bin/vulkan${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    echo "using the carried loader: $(ls .deno-bin/vulkan)"
  else
    echo "no libvulkan.so.1 on this machine and none carried: run tools/gpu_prepare.sh and carry .deno-bin"
  fi
fi
manifests=$(ls /usr/share/vulkan/icd.d/nvidia*.json /etc/vulkan/icd.d/nvidia*.json 2>/dev/null || true)
if [ -z "$manifests" ]; then
  if ldconfig -p 2>/dev/null | grep -q 'libGLX_nvidia\.so\.0'; then
    printf '{"file_format_version": "1.0.0", "ICD": {"library_path": "libGLX_nvidia.so.0", "api_version": "1.3.0"}}\n' \
      >"$WORK/nvidia_icd.json"
    export VK_ICD_FILENAMES="$WORK/nvidia_icd.json"
    echo "no NVIDIA ICD manifest: wrote $VK_ICD_FILENAMES for libGLX_nvidia.so.0"
  else
    echo "no NVIDIA ICD manifest and no libGLX_nvidia.so.0: WebGPU will find only software adapters, if any"
  fi
else
  echo "ICD manifests: $manifests"
fi
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$WORK/xdg}
mkdir -p "$XDG_RUNTIME_DIR"

phase "adapter"
timeout 60 "$DENO" eval 'const a = await navigator.gpu?.requestAdapter({ powerPreference: "high-performance" });
console.log(a ? JSON.stringify({ description: a.info.description, vendor: a.info.vendor, fallback: a.info.isFallbackAdapter }) : "no adapter");'
RESULT[adapter]=$?

phase "PyTorch parity suite, batch norm + ReLU and NaN rules with AT_BACKEND=webgpu"
AT_BACKEND=webgpu timeout 180 "$DENO" test -A "${DENO_FLAGS[@]}" tests/parity_test.ts tests/bn_relu_test.ts tests/nan_test.ts
RESULT[parity]=$?

phase "AT step, batch 128, webgpu backend"
timeout 150 "$DENO" run -A "${DENO_FLAGS[@]}" bench/at_step_gpu.ts --backend webgpu --batch 128 --warmup 3 --steps 20
RESULT[bench]=$?

phase "summary"
for k in adapter parity bench; do
  printf '  %-8s %s\n' "$k" "$([ "${RESULT[$k]}" = 0 ] && echo PASS || echo "FAIL (exit ${RESULT[$k]})")"
done
