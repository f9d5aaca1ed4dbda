#!/usr/bin/env bash
# One prepared GPU run for a short device lease: installs nothing, runs the image and Poisson benchmarks on
# CUDA and writes their tables to $OUT (or ./benchmarks/out). Budget: well under 10 minutes on an H100.
#   bash benchmarks/gpu.sh            # on the device machine, from the repository root
# What it measures:
#   1. image: the gpu recipe (512², full batch, lr 1e-3 cosine) and the paper's schedule for sine over
#      2000 steps (is the recipe ≥ 40 dB within 2000 steps?), step time of reference vs default, time to 40 dB;
#   2. poisson: analytic vs autograd step time at 256² full batch, PSNR after 2000 steps for sine;
#   3. sdf: step time and peak memory at the paper's 250k + 250k points (reference vs analytic vs the default
#      compiled path), and Chamfer against steps on the bunny for 3000 steps of the gpu recipe;
#   4. pde: step time of the Helmholtz, wave and inverse-Helmholtz losses (analytic eager / compiled /
#      autograd) at the gpu recipes' sizes.
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-benchmarks/out}"
mkdir -p "$out"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" MPLCONFIGDIR="$(mktemp -d)" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt"
python -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)" | tee -a "$out/gpu.txt"
timeout 330 python benchmarks/image_fit.py --device cuda --activations sine --steps 2000 --eval-every 250 \
  --target-db 40 --json "$out/image_fit_gpu.json" --markdown "$out/image_fit_gpu.md" 2>&1 | tee "$out/image_fit_gpu.log"
timeout 200 python benchmarks/poisson.py --device cuda --activations sine --size 256 --steps 2000 \
  --json "$out/poisson_gpu.json" 2>&1 | tee "$out/poisson_gpu.log"
timeout 240 python benchmarks/sdf.py --device cuda --parts step_time,curve --steps 3000 --eval-every 1000 \
  --json "$out/sdf_gpu.json" 2>&1 | tee "$out/sdf_gpu.log"
timeout 150 python benchmarks/pde.py --device cuda --parts step_time \
  --json "$out/pde_gpu.json" 2>&1 | tee "$out/pde_gpu.log"
timeout 150 python benchmarks/suite.py --device cuda --json "$out/suite_gpu.json" 2>&1 | tee "$out/suite_gpu.log"
