#!/usr/bin/env bash
# Run here, before the device call (no GPU needed): puts into the checkout what benchmarks/gpu.sh needs and the
# device image lacks. Both folders are ignored by git; the call carries them:
#   .whl/      wheels for Python 3.12 of the pure-Python packages the image does not have (trimesh, pypng)
#   .devdata/  the bunny files from ../shared/data (the device call sends the checkout only, not ../shared)
# Then call the device tool with   command: bash benchmarks/gpu.sh   carry: [".whl", ".devdata"]   timeout_s: 600
# (docs/performance.md, "Benchmarks").
set -euo pipefail
cd "$(dirname "$0")/.."
py="${PYTHON:-python3}"
rm -rf .whl .devdata
mkdir -p .whl .devdata
"$py" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux2014_x86_64 -d .whl trimesh==5.2.0 pypng==0.20220715.0
data="${SIRENKIT_DATA:-../shared/data}"
for f in bunny_100k.xyz bunny.ply; do
  if [ -f "$data/$f" ]; then cp "$data/$f" .devdata/; else echo "gpu_prepare: $data/$f is absent (the SDF part will stop)"; fi
done
du -sh .whl .devdata
