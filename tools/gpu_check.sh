#!/usr/bin/env bash
# The cudnn backend's check on a lent GPU machine, as one command (about 3-8 minutes):
#
#   bash tools/gpu_check.sh
#
# It needs only the working tree plus what tools/gpu_prepare.sh put in .deno-bin/ (an xz-compressed deno and
# an archived DENO_DIR holding the npm packages the tests import): the machine downloads nothing. It
#   1. unpacks deno, prints nvidia-smi and the PyTorch / cuDNN versions of /opt/torch/.venv (or python3),
#      and where the NVIDIA wheel libraries are (python's bin folder goes first on PATH, so the backend's
#      discovery finds them the way it would for a user);
#   2. probes the cudnn backend and runs its unit tests (tests/cudnn_*_test.ts);
#   3. runs the whole PyTorch parity suite with AT_BACKEND=cudnn, and the fused batch norm + ReLU check;
#   4. times the WRN-16-1 <- WRN-16-2 attention-transfer step at batch 128 on the cudnn backend and in
#      PyTorch eager on the same card, and prints both in images/s and their ratio.
# TF32 is off throughout (NVIDIA_TF32_OVERRIDE=0; FMA math in the backend; allow_tf32 False in PyTorch).
# The full log goes to $OUT/gpu_check.log when OUT is set (else a temporary folder), and a summary of the
# numbers to $OUT/gpu_check.json. Each phase has a time limit, so the whole run ends within ~8 minutes.
# The WebGPU backend on the same card is tools/gpu_check_webgpu.sh (a second call: both do not fit in one).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2

LOG_NAME=gpu_check.log
# shellcheck source=tools/_gpu_env.sh
source tools/_gpu_env.sh

phase "GPU and PyTorch"
nvidia-smi || echo "nvidia-smi failed"
if [ -n "$PY" ]; then
  export PATH="$(dirname "$PY"):$PATH"
  "$PY" - <<'EOF' || echo "PyTorch not importable"
import glob, os, site, torch
print(f"torch {torch.__version__} (CUDA {torch.version.cuda}), cuDNN {torch.backends.cudnn.version()}, "
      f"{torch.cuda.get_device_name() if torch.cuda.is_available() else 'no CUDA device'}")
for sp in site.getsitepackages():
    for d in sorted(glob.glob(os.path.join(sp, "nvidia", "*", "lib"))):
        libs = sorted(f for f in os.listdir(d) if any(f.startswith(p) for p in ("libcudnn", "libcublas", "libnvrtc")))
        if libs:
            print(f"{d}: {' '.join(libs)}")
EOF
  SP=$("$PY" -c 'import site; print(site.getsitepackages()[0])' 2>/dev/null)
  if command -v readelf >/dev/null 2>&1 && [ -f "$SP/nvidia/cudnn/lib/libcudnn.so.9" ]; then
    readelf -d "$SP/nvidia/cudnn/lib/libcudnn.so.9" | grep -E 'NEEDED|RUNPATH|RPATH'
  fi
fi
ldconfig -p 2>/dev/null | grep -E 'libcuda\.so\.1|libcudnn\.so|libcublas\.so|libnvrtc\.so' || true

# ---- 2. backend probe and unit tests -------------------------------------------------------------------
phase "cudnn backend probe"
timeout 30 "$DENO" run -A "${DENO_FLAGS[@]}" tests/_cudnn_probe_child.ts
RESULT[probe]=$?

phase "cudnn unit tests (tests/cudnn_*_test.ts)"
timeout 150 "$DENO" test -A "${DENO_FLAGS[@]}" tests/cudnn_*_test.ts
RESULT[unit]=$?

# ---- 3. PyTorch parity ---------------------------------------------------------------------------------
phase "PyTorch parity suite, batch norm + ReLU and NaN rules with AT_BACKEND=cudnn"
if [ -f tests/parity_test.ts ]; then
  AT_BACKEND=cudnn timeout 110 "$DENO" test -A "${DENO_FLAGS[@]}" tests/parity_test.ts tests/bn_relu_test.ts tests/nan_test.ts
  RESULT[parity]=$?
else
  echo "tests/parity_test.ts is missing"
  RESULT[parity]=1
fi

# ---- 4. the AT step: cudnn backend beside PyTorch eager -------------------------------------------------
phase "AT step, batch 128, cudnn backend"
timeout 90 "$DENO" run -A "${DENO_FLAGS[@]}" bench/at_step_gpu.ts --backend cudnn --batch 128 --warmup 5 --steps 30 |
  tee "$WORK/deno_bench.txt"
RESULT[bench_deno]=${PIPESTATUS[0]}

phase "AT step, batch 128, PyTorch eager"
if [ -n "$PY" ]; then
  PYTHONUNBUFFERED=1 timeout 90 "$PY" tools/at_step_torch.py --batch 128 --warmup 5 --steps 30 |
    tee "$WORK/torch_bench.txt"
  RESULT[bench_torch]=${PIPESTATUS[0]}
else
  echo "no python"
  RESULT[bench_torch]=1
fi

# ---- summary -------------------------------------------------------------------------------------------
phase "summary"
for k in probe unit parity bench_deno bench_torch; do
  printf '  %-12s %s\n' "$k" "$([ "${RESULT[$k]}" = 0 ] && echo PASS || echo "FAIL (exit ${RESULT[$k]})")"
done
"${PY:-python3}" - "$WORK/deno_bench.txt" "$WORK/torch_bench.txt" "$OUT_DIR/gpu_check.json" \
  "${RESULT[probe]}" "${RESULT[unit]}" "${RESULT[parity]}" <<'EOF' || true
import json, sys
def result(path):
    try:
        lines = [l for l in open(path) if l.startswith("RESULT ")]
        return json.loads(lines[-1][7:]) if lines else None
    except OSError:
        return None
deno, torch = result(sys.argv[1]), result(sys.argv[2])
summary = {"probe": sys.argv[4] == "0", "unit_tests": sys.argv[5] == "0", "parity": sys.argv[6] == "0",
           "deno_cudnn": deno, "pytorch_eager": torch}
for name, r in (("cudnn backend", deno), ("PyTorch eager", torch)):
    print(f"  {name:14} {r['images_per_s']:9.1f} images/s  ({r['ms_per_step']:.2f} ms/step)" if r else f"  {name:14} no result")
if deno and torch:
    summary["ratio_cudnn_over_pytorch"] = deno["images_per_s"] / torch["images_per_s"]
    print(f"  ratio cudnn / PyTorch: {summary['ratio_cudnn_over_pytorch']:.3f}")
json.dump(summary, open(sys.argv[3], "w"), indent=2)
EOF
echo "log: $LOG (total $(($(date +%s) - T0))s)"
status=0
for k in probe unit parity bench_deno bench_torch; do [ "${RESULT[$k]}" = 0 ] || status=1; done
# Let tee write the end of the log before the machine collects $OUT.
exec 1>&- 2>&-
sleep 1
exit $status
