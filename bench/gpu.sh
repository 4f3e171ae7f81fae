#!/usr/bin/env bash
# The whole GPU check of sld.fit in one command, under 10 minutes. CI never runs it.
#
#   bash bench/gpu.sh            # from the repository root, on a machine with an NVIDIA GPU
#
# 1. Python: the project venv (.venv), else $PYTHON, else python3. Packages sld needs that
#    the machine lacks travel as wheels in .whl/ (installed under /tmp/sld-site, no
#    network). On an image with JAX, CUDA, numpy, pandas, sympy and rich but not the rest:
#      pip download --no-deps --only-binary=:all: --python-version 3.12 --platform \
#        manylinux2014_x86_64 -d .whl pydantic pydantic_core annotated-types \
#        typing-inspection typing_extensions openai jiter distro sniffio textual platformdirs
#    (pin pydantic and pydantic_core to the pair installed here). When JAX sees no GPU it tries `pip install jax[cuda12]` at the installed
#    version (needs network; SLD_GPU_NO_INSTALL=1 skips it).
# 2. bench/fit_bench.py population on vocab and lr_bsz (24 laws, 16 restarts): on the GPU
#    in float64 and float32, and on the CPU backend, each end to end and once compiled.
# 3. scipy on the same laws, each task in its own process pinned to one core of its own
#    while steps 2 and 4 run on the other cores (scipy takes minutes per lr_bsz law).
# 4. A wide batch (256 restarts, 8 vocab laws) on the GPU.
# 5. `sld discover lr_bsz_scaling_law --seed 0 --time $SLD_GPU_DISCOVER` on the GPU
#    (default 90s): candidates fitted, read from the run's store (the final pick is cut
#    off by the step's limit if it runs long; the search's count is what this measures).
# Every step has its own time limit; the log is also written to $SLD_GPU_LOG (bench-gpu.log).
# A dry run without a GPU: SLD_GPU_PLATFORM=cpu SLD_GPU_LAWS=2 SLD_GPU_DISCOVER=20s bash bench/gpu.sh
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
LOG=${SLD_GPU_LOG:-bench-gpu.log}
DISCOVER=${SLD_GPU_DISCOVER:-90s}
GPU=${SLD_GPU_PLATFORM:-cuda}  # cpu: a dry run of the script on a machine without a GPU
LAWS=${SLD_GPU_LAWS:-24}
exec > >(tee "$LOG") 2>&1
started=$(date +%s)
export SLD_COMPILE_CACHE=0  # measure compiles too, as the CPU figures do
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"

if ! "$PY" -c "import pydantic, openai, textual" 2>/dev/null && [ -d .whl ]; then
    echo "installing the wheels in .whl/ under /tmp/sld-site"
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/sld-site .whl/*.whl || { echo "error: could not install .whl/*.whl"; exit 2; }
    export PYTHONPATH="$root:/tmp/sld-site"
fi

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
    timeout -k 20 "$limit" "$@" || echo "!! $what: exit $? (timed out or failed)"
}

[ "$GPU" = cpu ] || nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || {
    echo "error: no NVIDIA GPU here (nvidia-smi failed); run this on a GPU machine"
    exit 2
}
if [ "$GPU" != cpu ] && ! has_gpu; then
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

# Cores: the last two run scipy, one task each; everything else runs on the rest.
cores=$(nproc)
main_pin=() scipy_pin=("" "") main_cores=$cores
if command -v taskset >/dev/null && [ "$cores" -ge 4 ]; then
    main_pin=(taskset -c "0-$((cores - 3))") main_cores=$((cores - 2))
    scipy_pin=("taskset -c $((cores - 2))" "taskset -c $((cores - 1))")
    echo "cores: $cores; scipy pinned to cores $((cores - 2)) and $((cores - 1))"
else
    echo "cores: $cores; no taskset: scipy shares the cores with the other steps"
fi
BENCH=(bench/fit_bench.py population -n "$LAWS")
i=0 scipy_pids=()
for task in vocab_scaling_law lr_bsz_scaling_law; do
    # One core, one thread: scipy's laws/s as the CPU figures measure it.
    env JAX_PLATFORMS=cpu OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \
        timeout 400 ${scipy_pin[$i]} "$PY" "${BENCH[@]}" --tasks "$task" --scipy-only \
        --scipy-seconds 60 >"$(dirname "$LOG")/scipy-$task.log" 2>&1 &
    scipy_pids+=($!)
    i=$((i + 1))
done

for task in vocab_scaling_law lr_bsz_scaling_law; do
    step 80 "$task: GPU, float64" env JAX_PLATFORMS=$GPU "${main_pin[@]}" "$PY" "${BENCH[@]}" \
        --tasks "$task" --scipy-laws 0 --losses
    step 50 "$task: GPU, float32" env JAX_PLATFORMS=$GPU "${main_pin[@]}" "$PY" "${BENCH[@]}" \
        --tasks "$task" --scipy-laws 0 --dtype float32
    step 80 "$task: CPU backend ($main_cores cores), float64" env JAX_PLATFORMS=cpu \
        "${main_pin[@]}" "$PY" "${BENCH[@]}" --tasks "$task" --scipy-laws 0 --losses
done
for restarts in 256; do
    step 40 "batch sweep: $restarts restarts, 8 vocab laws, GPU" env JAX_PLATFORMS=$GPU \
        "${main_pin[@]}" "$PY" bench/fit_bench.py population -n "$((LAWS < 8 ? LAWS : 8))" --tasks vocab_scaling_law \
        --restarts "$restarts" --scipy-laws 0
done

runs=$(mktemp -d)
step "$(($(echo "$DISCOVER" | sed 's/m$/*60/; s/s$//') + 30))" \
    "sld discover lr_bsz_scaling_law --seed 0 --time $DISCOVER, GPU" \
    env JAX_PLATFORMS=$GPU "${main_pin[@]}" "$PY" -m sld.cli discover lr_bsz_scaling_law \
    --seed 0 --time "$DISCOVER" --quiet --json --out "$runs"
"$PY" - "$runs" <<'EOF'
import sqlite3, sys
from pathlib import Path

for db in Path(sys.argv[1]).glob("*/run.sqlite"):
    con = sqlite3.connect(db)
    counts = dict(con.execute("select status, count(*) from candidates group by status"))
    fits = con.execute("select count(*), sum(seconds) from fits").fetchone()
    gens = con.execute("select max(generation) from candidates").fetchone()[0]
    print(f"discover store: {counts}; fits {fits[0]} ({fits[1] or 0:.1f} s fitting); "
          f"last generation {gens}")
EOF

echo
echo "== scipy, one core per task (waiting for it, at $(($(date +%s) - started))s)"
wait "${scipy_pids[@]}"  # not a bare wait: that also waits for the tee above
cat "$(dirname "$LOG")"/scipy-*.log
echo
echo "done in $(($(date +%s) - started))s; log in $LOG"
