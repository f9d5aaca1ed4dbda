#!/usr/bin/env bash
# The `--scale paper` experiments that fit one short GPU lease (an H100, 15 minutes in all, at most 600 s a
# command): each is a partial run of `sirenkit reproduce` (the paper's protocol, every method at the paper's
# learning rate; one seed; the paper's signal), labelled "partial" in its own table. Run it on the device machine
# from the repository root after benchmarks/gpu_prepare.sh (its wheels in .whl), like benchmarks/gpu.sh; results
# go to $OUT/reproduce_gpu.tgz, repacked after each part so that a part cut short leaves the others.
#   1. image (Figure 1): sine, relu, tanh, relu-pe, rbf-relu on the cameraman 512², every pixel, 10k steps at
#      lr 1e-4 (≈ 5 fits × 30–50 s);
#   2. poisson: from gradients, sine, tanh, relu-pe on the cameraman 256², every pixel, 10k steps at lr 1e-4.
# The GPU column of docs/reproduction.md is filled from these tables; cells they do not cover stay "not run".
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-benchmarks/out}"
mkdir -p "$out"
python="${PYTHON:-python3}"
site=""
if compgen -G ".whl/*.whl" > /dev/null; then
  site="$(mktemp -d)"
  "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$site" .whl/*.whl || exit 1
fi
export PYTHONPATH="$PWD/src${site:+:$site}${PYTHONPATH:+:$PYTHONPATH}" MPLCONFIGDIR="$(mktemp -d)" PYTHONUNBUFFERED=1
"$python" -c "import torch, sirenkit, skimage, scipy, safetensors, matplotlib" || {
  echo "gpu_reproduce.sh: a package is missing (above); run benchmarks/gpu_prepare.sh here and carry .whl"; exit 1; }
res="$(mktemp -d)/reproduce_gpu"
mkdir -p "$res"
part() {  # part NAME SECONDS ARGS...: one partial `sirenkit reproduce` under a timeout
  local name="$1" limit="$2"
  shift 2
  echo "== $name (at most $limit s) =="
  timeout "$limit" "$python" -m sirenkit reproduce "$@" --scale paper --seeds 1 --protocols paper --device cuda \
    --out "$res/$name" 2>&1 | tee "$res/$name.log"
  tar czf "$out/reproduce_gpu.tgz" -C "$(dirname "$res")" reproduce_gpu
}
nvidia-smi --query-gpu=name,memory.total --format=csv | tee "$res/gpu.txt"
part image 300 image --signals camera
part poisson 260 poisson --signals camera --methods gradient/sine,gradient/tanh,gradient/relu-pe
