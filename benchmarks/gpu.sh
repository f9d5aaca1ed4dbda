#!/usr/bin/env bash
# One prepared GPU run for a short device lease: runs the benchmarks on CUDA and writes their tables to $OUT (or
# ./benchmarks/out) as two files, the device tool bringing back at most 8: gpu.log (everything printed) and
# gpu_results.tgz (every part's JSON, log and run folder), repacked after each part so that a part cut short by
# its timeout leaves the others' results. The timeouts add up to 560 s, inside the tool's 600 s per command.
#   bash benchmarks/gpu_prepare.sh    # here, first: wheels the device image lacks -> .whl, the bunny -> .devdata
#   bash benchmarks/gpu.sh            # on the device machine, from the repository root, carrying .whl and .devdata
# It installs nothing into the machine's Python: carried wheels go to a temporary folder on PYTHONPATH, and it
# stops at once, saying what is missing, when an import fails (a wasted lease costs more than a refused start).
# What it measures, most important first (a part cut short by its timeout leaves the others intact):
#   1. suite: reference (eager fp32, autograd double backward, lr 1e-4) vs default step time and peak memory for
#      image 512², Poisson gradient/Laplacian 512², SDF 250k + 250k points, Helmholtz 53k points; time to 40 dB;
#   2. fused: the fused SIREN derivative streams with their Triton kernels against forward mode and autograd
#      (Laplacian and SDF losses at 250k points, all eager: the suite times the compiled default paths): step
#      time, peak memory, agreement of the outputs;
#   3. image: `sirenkit fit image --recipe gpu` itself (512², full batch, lr 2e-3 cosine, 2000 steps: ≥ 40 dB?);
#   4. sdf: Chamfer against steps on the bunny for 3000 steps of the gpu recipe;
#   5. pde: step time of the Helmholtz and wave losses (analytic eager / compiled / autograd);
#   6. batched: `fit images` (vmap) against 4 separate `fit image` runs, images per second;
#   7. graphs: image and SDF steps with the compiled loss replayed as CUDA graphs (--cuda-graphs), beside default.
# The default path includes bf16 hidden-layer matmuls where --precision auto picks them (image at 512²), so the
# suite's image row and time to 40 dB, and the image recipe run, measure them.
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-benchmarks/out}"
mkdir -p "$out"
main() {
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
res="$(mktemp -d)/gpu_results"
mkdir -p "$res"
# part NAME SECONDS COMMAND...: runs COMMAND under a timeout, its output into NAME.log, then repacks the results.
part() {
  local name="$1" limit="$2"
  shift 2
  echo "== $name (at most $limit s) =="
  timeout "$limit" "$@" 2>&1 | tee "$res/$name.log"
  tar czf "$out/gpu_results.tgz" -C "$(dirname "$res")" gpu_results
}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$res/gpu.txt"
"$python" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)" | tee -a "$res/gpu.txt"
part suite 145 "$python" benchmarks/suite.py --device cuda --json "$res/suite_gpu.json"
part fused 70 "$python" benchmarks/fused.py --device cuda --points 250000 --json "$res/fused_gpu.json"
part image 75 "$python" -m sirenkit fit image --recipe gpu --device cuda --out "$res/image_gpu" --quiet
part sdf 120 "$python" benchmarks/sdf.py --device cuda --parts curve --steps 3000 --eval-every 1500 \
  --json "$res/sdf_gpu.json"
part pde 60 "$python" benchmarks/pde.py --device cuda --parts step_time --tasks helmholtz,wave --rounds 2 \
  --json "$res/pde_gpu.json"
part batched 45 "$python" benchmarks/batched_fit.py --device cuda --images 4 --size 128 --steps 150 --widths 256 \
  --json "$res/batched_gpu.json"
part graphs 45 "$python" benchmarks/suite.py --device cuda --workloads image,sdf --graphs --no-memory --no-target \
  --json "$res/graphs_gpu.json"
cat "$res/image_gpu/metrics.json" 2>/dev/null
}
main 2>&1 | tee "$out/gpu.log"  # a pipeline, not `exec > >(tee …)`: the script ends only once the log is written
