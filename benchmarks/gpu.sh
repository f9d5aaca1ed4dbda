#!/usr/bin/env bash
# One prepared GPU run for a short device lease: runs the benchmarks on CUDA and writes their tables to $OUT (or
# ./benchmarks/out). The timeouts add up to 560 s, inside the device tool's 600 s per command.
#   bash benchmarks/gpu_prepare.sh    # here, first: wheels the device image lacks -> .whl, the bunny -> .devdata
#   bash benchmarks/gpu.sh            # on the device machine, from the repository root, carrying .whl and .devdata
# It installs nothing into the machine's Python: carried wheels go to a temporary folder on PYTHONPATH, and it
# stops at once, saying what is missing, when an import fails (a wasted lease costs more than a refused start).
# What it measures, most important first (a part cut short by its timeout leaves the others intact):
#   1. suite: reference (eager fp32, autograd double backward, lr 1e-4) vs default step time and peak memory for
#      image 512², Poisson gradient/Laplacian 512², SDF 250k + 250k points, Helmholtz 53k points; time to 40 dB;
#   2. fused: the fused SIREN derivative streams with their Triton kernels against forward mode and autograd
#      (Laplacian and SDF losses at 250k points): step time, peak memory, agreement of the outputs;
#   3. image: the gpu recipe (512², full batch, lr 2e-3 cosine) over 2000 steps (≥ 40 dB?);
#   4. sdf: Chamfer against steps on the bunny for 3000 steps of the gpu recipe;
#   5. pde: step time of the Helmholtz, wave and inverse-Helmholtz losses (analytic eager / compiled / autograd);
#   6. batched: `fit images` (vmap) against 8 separate `fit image` runs, images per second;
#   7. graphs: image and SDF steps with the compiled loss replayed as CUDA graphs (--cuda-graphs), beside default.
# The default path includes bf16 hidden-layer matmuls where --precision auto picks them (image at 512²), so the
# suite's image row and time to 40 dB, and the image recipe run, measure them.
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-benchmarks/out}"
mkdir -p "$out"
python="${PYTHON:-python3}"  # the device image's python3 is the one holding PyTorch; it may have no `python`
site=""
if compgen -G ".whl/*.whl" > /dev/null; then
  site="$(mktemp -d)"
  "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$site" .whl/*.whl || exit 1
fi
export PYTHONPATH="$PWD/src${site:+:$site}${PYTHONPATH:+:$PYTHONPATH}" MPLCONFIGDIR="$(mktemp -d)" PYTHONUNBUFFERED=1
if [ -z "${SIRENKIT_DATA:-}" ] && [ -d .devdata ]; then export SIRENKIT_DATA="$PWD/.devdata"; fi
"$python" -c "import torch, sirenkit, trimesh, skimage, scipy, safetensors, tqdm, matplotlib, imageio" || {
  echo "gpu.sh: a package is missing (above); run benchmarks/gpu_prepare.sh here and carry .whl"; exit 1; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt"
"$python" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)" | tee -a "$out/gpu.txt"
timeout 150 "$python" benchmarks/suite.py --device cuda --json "$out/suite_gpu.json" 2>&1 | tee "$out/suite_gpu.log"
timeout 60 "$python" benchmarks/fused.py --device cuda --points 250000 --compile \
  --json "$out/fused_gpu.json" 2>&1 | tee "$out/fused_gpu.log"
timeout 100 "$python" benchmarks/image_fit.py --device cuda --activations sine --steps 2000 --eval-every 250 \
  --target-db 40 --json "$out/image_fit_gpu.json" --markdown "$out/image_fit_gpu.md" 2>&1 | tee "$out/image_fit_gpu.log"
timeout 100 "$python" benchmarks/sdf.py --device cuda --parts curve --steps 3000 --eval-every 1000 \
  --json "$out/sdf_gpu.json" 2>&1 | tee "$out/sdf_gpu.log"
timeout 60 "$python" benchmarks/pde.py --device cuda --parts step_time \
  --json "$out/pde_gpu.json" 2>&1 | tee "$out/pde_gpu.log"
timeout 40 "$python" benchmarks/batched_fit.py --device cuda --images 8 --size 128 --steps 200 --widths 256 \
  --json "$out/batched_gpu.json" 2>&1 | tee "$out/batched_gpu.log"
timeout 50 "$python" benchmarks/suite.py --device cuda --workloads image,sdf --graphs --no-memory --no-target \
  --json "$out/graphs_gpu.json" 2>&1 | tee "$out/graphs_gpu.log"
