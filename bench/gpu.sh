#!/usr/bin/env bash
# The whole GPU check of sld.fit in one command, under 10 minutes. CI never runs it.
#
#   bash bench/gpu.sh            # from the repository root, on a machine with an NVIDIA GPU
#
# 1. Uses the project venv (.venv, or $PYTHON); installs jax[cuda12] at the installed jax
#    version when JAX sees no GPU (needs network; skip with SLD_GPU_NO_INSTALL=1).
# 2. fit_bench.py population on vocab and lr_bsz (24 laws, 16 restarts) on the GPU and on
#    this machine's CPU backend, against scipy on the same machine (scipy for about 30 s
#    only: it takes minutes per lr_bsz law), in float64 and float32. Each run prints laws/s
#    end to end and once compiled, and the ratio to scipy.
# 3. A batch-size sweep (restarts 16 / 64 / 256, 8 vocab laws) on the GPU.
# Every step has its own time limit; the log is also written to bench-gpu.log.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
LOG=${SLD_GPU_LOG:-bench-gpu.log}
exec > >(tee "$LOG") 2>&1
started=$(date +%s)
export SLD_COMPILE_CACHE=0  # measure compiles too, as the CPU figures do

has_gpu() {
    "$PY" - <<'EOF' 2>/dev/null
import sys, jax
sys.exit(0 if any(d.platform == "gpu" for d in jax.devices()) else 1)
EOF
}

step() {  # step SECONDS DESCRIPTION COMMAND...
    local limit=$1 what=$2
    shift 2
    echo
    echo "== $what (limit ${limit}s, at $(($(date +%s) - started))s)"
    timeout "$limit" "$@" || echo "!! $what: exit $? (timed out or failed)"
}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || {
    echo "error: no NVIDIA GPU here (nvidia-smi failed); run this on a GPU machine"
    exit 2
}
if ! has_gpu; then
    if [ "${SLD_GPU_NO_INSTALL:-0}" = 1 ]; then
        echo "error: JAX sees no GPU and SLD_GPU_NO_INSTALL=1; install jax[cuda12] first"
        exit 2
    fi
    version=$("$PY" -c "import jax; print(jax.__version__)")
    echo "JAX sees no GPU: installing jax[cuda12]==$version"
    "$PY" -m pip install -q "jax[cuda12]==$version" || {
        echo "error: could not install jax[cuda12]==$version (no network?)"
        exit 2
    }
    has_gpu || { echo "error: JAX still sees no GPU after installing jax[cuda12]"; exit 2; }
fi
"$PY" -c "import jax; print('jax', jax.__version__, jax.devices())"

BENCH=(bench/fit_bench.py population -n 24)
for task in vocab_scaling_law lr_bsz_scaling_law; do
    step 110 "$task: GPU, float64" env JAX_PLATFORMS=cuda "$PY" "${BENCH[@]}" \
        --tasks "$task" --scipy-seconds 30
    step 45 "$task: GPU, float32" env JAX_PLATFORMS=cuda "$PY" "${BENCH[@]}" \
        --tasks "$task" --scipy-laws 1 --dtype float32
    step 80 "$task: CPU backend, float64" env JAX_PLATFORMS=cpu "$PY" "${BENCH[@]}" \
        --tasks "$task" --scipy-laws 1
done
for restarts in 16 64 256; do
    step 30 "batch sweep: $restarts restarts, 8 vocab laws, GPU" env JAX_PLATFORMS=cuda \
        "$PY" bench/fit_bench.py population -n 8 --tasks vocab_scaling_law \
        --restarts "$restarts" --scipy-laws 1
done
echo
echo "done in $(($(date +%s) - started))s; log in $LOG"
