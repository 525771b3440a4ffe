# Sourced by tools/gpu_check.sh and tools/gpu_check_webgpu.sh: the log under $OUT (else a temporary folder),
# `phase`, and deno unpacked from .deno-bin/ with the offline npm packages of tools/gpu_prepare.sh. Sets DENO,
# DENO_FLAGS, PY, WORK, OUT_DIR and RESULT. Expects LOG_NAME (the log's file name).
OUT_DIR=${OUT:-$(mktemp -d)}
mkdir -p "$OUT_DIR"
LOG="$OUT_DIR/${LOG_NAME:-gpu_check.log}"
exec > >(tee "$LOG") 2>&1
T0=$(date +%s)
phase() { printf '\n== %s (at %ss)\n' "$*" "$(($(date +%s) - T0))"; }
declare -A RESULT

# ---- 1. tools and machine ------------------------------------------------------------------------------
phase "deno"
WORK=$(mktemp -d)
PY=/opt/torch/.venv/bin/python
[ -x "$PY" ] || PY=$(command -v python3 || true)
if [ -f .deno-bin/deno.xz ]; then
  if command -v xz >/dev/null 2>&1; then
    xz -dc .deno-bin/deno.xz >"$WORK/deno"
  else
    "$PY" -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' \
      .deno-bin/deno.xz "$WORK/deno"
  fi
  chmod +x "$WORK/deno"
  DENO="$WORK/deno"
elif command -v deno >/dev/null 2>&1; then
  DENO=$(command -v deno)
else
  echo "no deno: run tools/gpu_prepare.sh on the development machine and carry .deno-bin"
  exit 2
fi
"$DENO" --version | head -1
DENO_FLAGS=(--no-check)
if [ -f .deno-bin/deno_dir.tar.xz ]; then
  # Offline: the npm packages the tests import, resolved through tools/gpu_deno.json (the project's own
  # deno.json would want its whole npm set). Child processes of the tests take the same flags.
  export DENO_DIR="$WORK/deno_dir"
  mkdir -p "$DENO_DIR"
  "$PY" -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' .deno-bin/deno_dir.tar.xz "$DENO_DIR" ||
    tar -C "$DENO_DIR" -xJf .deno-bin/deno_dir.tar.xz
  DENO_FLAGS+=(--cached-only --no-lock --config tools/gpu_deno.json)
  export AT_DENO_FLAGS="--cached-only --no-lock --config tools/gpu_deno.json"
fi
export NO_COLOR=1 NVIDIA_TF32_OVERRIDE=0

