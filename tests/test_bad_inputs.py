"""Bad input, as a user meets it: one line on stderr naming the problem, exit code 2, nothing written.

Every row of docs/errors.md names one test here (or an older test elsewhere). Most cases call
`sirenkit.cli.main` in this process, which is the command line minus the interpreter start-up; a few run
`python -m sirenkit` in a subprocess to check the real exit status and stderr end to end.

Each in-process case checks, besides the exit code and the message:
- stderr holds exactly one non-empty line, `sirenkit…: error: …`, and no traceback;
- nothing was created or changed: neither the `--out` it names, nor the finished runs it reads, nor the bad
  input files themselves (a snapshot of names, sizes and modification times before and after).
"""

from __future__ import annotations

import numpy as np
import pytest

from sirenkit.cli import main
from sirenkit.errors import UserError

from .badinput import (
    CHECKPOINT,
    NO_CUDA,
    QUICK,
    ROOT,
    TASK_QUICK,
    Case,
    Env,
    _bad_meta_json,
    _drop,
    _foreign,
    _no_checkpoint,
    _pickled,
    _read_only_out,
    _set,
    _truncated,
    _with_checkpoint,
    _wrong_shape,
    check_case,
    config,
    fit,
    one_line_error,
)
from .conftest import run_cli

CASES = [
    # ---- images (fit image; poisson and blend use the same loader)
    Case("image-missing", "`fit image missing.png`", fit("image", "{d}/missing.png"), "does not exist"),
    Case("image-folder", "`fit image somedir` (a folder)", fit("image", "{d}/somedir"),
         "is a folder, not an image file"),
    Case("image-empty", "`fit image empty.png` (0 bytes)", fit("image", "{d}/empty.png"), "is empty (0 bytes)"),
    Case("image-corrupt", "random bytes named `noise.png`", fit("image", "{d}/noise.png"), "could not read image"),
    Case("image-png-cut", "a PNG signature followed by junk", fit("image", "{d}/header.png"), "could not read image"),
    Case("image-text-as-jpeg", "a text file named `text.jpg`", fit("image", "{d}/text.jpg"), "could not read image"),
    Case("image-1-pixel", "a 1×1 PNG", fit("image", "{d}/one.png"), "is 1×1 pixels; need at least 2×2"),
    Case("image-1-row", "a 20×1 PNG", fit("image", "{d}/row.png"), "is 20×1 pixels; need at least 2×2"),
    Case("image-5-channels", "a TIFF with 5 channels", fit("image", "{d}/five.tif"),
         "has 5 channels; expected grey or RGB"),
    Case("image-animated", "an animated GIF (several frames)", fit("image", "{d}/anim.gif"),
         "expected a single 2-D image"),
    Case("image-nan", "a float TIFF holding NaN", fit("image", "{d}/nan.tif"), "contains NaN or infinite values"),
    Case("poisson-image-missing", "`poisson gradient missing.png`", fit("gradient", "{d}/missing.png"),
         "does not exist"),
    Case("blend-at-not-numbers", "`poisson blend … --mode clone --at a,b`",
         fit("blend", "{d}/base.png", "{d}/insert.png", "--mode", "clone", "--at", "a,b"), "--at must be X,Y"),
    Case("blend-at-outside", "`--at 99,5` on a 16×16 BASE",
         fit("blend", "{d}/base.png", "{d}/insert.png", "--mode", "clone", "--at", "99,5"), "lies outside BASE"),
    Case("blend-mask-size", "an 8×8 `--mask` for a 12×12 INSERT",
         fit("blend", "{d}/base.png", "{d}/insert.png", "--mode", "clone", "--mask", "{d}/mask8.png"),
         "must match INSERT"),
    Case("blend-mix-weight", "`--mix-weight 2`", fit("blend", "{d}/base.png", "{d}/insert.png", "--mix-weight", "2"),
         "--mix-weight must be in [0, 1]"),
    Case("blend-gradient-weight", "`--gradient-weight 0`",
         fit("blend", "{d}/base.png", "{d}/insert.png", "--gradient-weight", "0"),
         "--gradient-weight must be positive"),
    Case("blend-insert-missing", "`poisson blend base.png missing.png`",
         fit("blend", "{d}/base.png", "{d}/missing.png"), "does not exist"),
    # ---- numbers and choices (fit image)
    Case("steps-negative", "`--steps -1`", fit("image", "--steps", "-1"), "--steps must be ≥ 1"),
    Case("steps-zero", "`--steps 0`", fit("image", "--steps", "0"), "--steps must be ≥ 1"),
    Case("steps-not-integer", "`--steps ten`", fit("image", "--steps", "ten"),
         "argument --steps: expected an integer, got 'ten'"),
    Case("steps-fraction", "`--steps 1.5`", fit("image", "--steps", "1.5"),
         "argument --steps: expected an integer, got '1.5'"),
    Case("lr-zero", "`--lr 0`", fit("image", "--lr", "0"), "--lr must be a positive number"),
    Case("lr-negative", "`--lr -1`", fit("image", "--lr", "-1"), "--lr must be a positive number"),
    Case("lr-nan", "`--lr nan`", fit("image", "--lr", "nan"), "--lr must be a finite number"),
    Case("size-1", "`fit image --size 1`", fit("image", "--size", "1"),
         "--size must be ≥ 2 (or 0 for the native size), got 1"),
    Case("size-negative", "`fit image --size -3`", fit("image", "--size", "-3"),
         "--size must be ≥ 2 (or 0 for the native size), got -3"),
    Case("image-chunk-0", "`fit image --chunk 0`", fit("image", "--chunk", "0"), "--chunk must be ≥ 1"),
    Case("batch-pixels-negative", "`--batch-pixels -1`", fit("image", "--batch-pixels", "-1"),
         "--batch-pixels must be ≥ 0"),
    Case("keep-fraction-0", "`--keep-fraction 0`", fit("image", "--keep-fraction", "0"),
         "--keep-fraction must be in (0, 1], got 0.0"),
    Case("keep-fraction-above-1", "`--keep-fraction 1.5`", fit("image", "--keep-fraction", "1.5"),
         "--keep-fraction must be in (0, 1], got 1.5"),
    Case("prior-points-0", "`--prior-points 0`", fit("image", "--prior-points", "0"), "--prior-points ≥ 1"),
    Case("prior-unknown", "`--prior foo`", fit("image", "--prior", "foo"), "argument --prior: invalid choice: 'foo'"),
    Case("hidden-features-0", "`--hidden-features 0`", fit("image", "--hidden-features", "0"),
         "--hidden-features must be ≥ 1"),
    Case("hidden-layers-negative", "`--hidden-layers -1`", fit("image", "--hidden-layers", "-1"),
         "--hidden-layers ≥ 0"),
    Case("lr-final-above-1", "`--lr-final 2`", fit("image", "--lr-final", "2"), "--lr-final must be in [0, 1]"),
    Case("warmup-negative", "`--warmup-steps -1`", fit("image", "--warmup-steps", "-1"), "--warmup-steps must be ≥ 0"),
    Case("clip-grad-negative", "`--clip-grad -1`", fit("image", "--clip-grad", "-1"), "--clip-grad must be ≥ 0"),
    Case("max-seconds-0", "`--max-seconds 0`", fit("image", "--max-seconds", "0"), "--max-seconds must be positive"),
    Case("checkpoint-every-negative", "`--checkpoint-every -1`", fit("image", "--checkpoint-every", "-1"),
         "--checkpoint-every must be ≥ 0"),
    Case("log-every-0", "`--log-every 0`", fit("image", "--log-every", "0"), "--log-every must be ≥ 1"),
    Case("eval-every-0", "`--eval-every 0`", fit("image", "--eval-every", "0"), "--eval-every must be ≥ 1"),
    Case("schedule-unknown", "`--schedule linear`", fit("image", "--schedule", "linear"),
         "argument --schedule: invalid choice: 'linear'"),
    Case("activation-unknown", "`--activation swish`", fit("image", "--activation", "swish"),
         "argument --activation: invalid choice: 'swish'"),
    Case("recipe-unknown", "`--recipe fast`", fit("image", "--recipe", "fast"),
         "argument --recipe: invalid choice: 'fast'"),
    Case("device-unknown", "`--device tpu`", fit("image", "--device", "tpu"), "--device 'tpu' is not a device name"),
    Case("device-cuda-absent", "`--device cuda` without a GPU", fit("image", "--device", "cuda"),
         "CUDA is not available on this machine", (NO_CUDA,)),
    Case("flag-unknown", "`--bogus 1`", fit("image", "--bogus", "1"), "unrecognized arguments: --bogus"),
    Case("precision-unknown", "`--precision fp16`", fit("image", "--precision", "fp16"),
         "argument --precision: invalid choice: 'fp16'"),
    Case("precision-bf16-wire", "`--precision bf16 --activation wire`",
         fit("image", "--precision", "bf16", "--activation", "wire"), "--precision bf16 needs a coordinate MLP"),
    Case("cuda-graphs-cpu", "`--cuda-graphs --device cpu`", fit("image", "--cuda-graphs", "--compile", "auto"),
         "--cuda-graphs needs a CUDA device; this run uses cpu"),
    Case("cuda-graphs-no-compile", "`--cuda-graphs --compile off`", fit("image", "--cuda-graphs", "--compile", "off"),
         "--cuda-graphs replays the compiled step: use --compile on or auto with it"),
    Case("laplacian-reverse", "`poisson laplacian --derivatives reverse`",
         fit("laplacian", "--derivatives", "reverse"),
         "--derivatives reverse gives gradients only; the laplacian needs analytic, autograd or fused"),
    Case("precision-bf16-fused", "`poisson gradient --precision bf16 --derivatives fused`",
         fit("gradient", "--precision", "bf16", "--derivatives", "fused"), "--derivatives fused runs in fp32 only"),
    Case("precision-bf16-backward-wire", "`fit sdf --precision bf16-backward --activation wire`",
         fit("sdf", "--precision", "bf16-backward", "--activation", "wire"),
         "--precision bf16-backward needs a coordinate MLP"),
    # ---- commands
    Case("task-unknown", "`sirenkit fit hologram`", lambda e: ["fit", "hologram"],
         "argument TASK: invalid choice: 'hologram'"),
    Case("command-unknown", "`sirenkit frobnicate`", lambda e: ["frobnicate"],
         "argument COMMAND: invalid choice: 'frobnicate'"),
    Case("task-missing", "`sirenkit fit`", lambda e: ["fit"], "the following arguments are required: TASK"),
    Case("render-no-run", "`sirenkit render`", lambda e: ["render"], "the following arguments are required: RUN_DIR"),
    # ---- audio
    Case("audio-missing", "`fit audio missing.wav`", fit("audio", "{d}/missing.wav"), "does not exist"),
    Case("audio-folder", "`fit audio somedir` (a folder)", fit("audio", "{d}/somedir"),
         "is a folder, not an audio file"),
    Case("audio-empty", "an empty WAV (0 bytes)", fit("audio", "{d}/empty.wav"), "is empty (0 bytes)"),
    Case("audio-corrupt", "random bytes named `noise.wav`", fit("audio", "{d}/noise.wav"), "could not read audio"),
    Case("audio-cut-header", "a WAV cut inside its header", fit("audio", "{d}/cut.wav"), "could not read audio"),
    Case("audio-1-sample", "a WAV of 1 sample", fit("audio", "{d}/one.wav"),
         "has 1 sample(s) in the chosen window; need at least 2"),
    Case("audio-0-samples", "a valid WAV header with 0 samples", fit("audio", "{d}/none.wav"), "holds no samples"),
    Case("audio-nan", "a float WAV holding NaN", fit("audio", "{d}/nan.wav"), "contains NaN or infinite samples"),
    Case("audio-silent", "a WAV of zeros", fit("audio", "{d}/silent.wav"), "is silent"),
    Case("audio-start-past-end", "`--start 5` on a 0.05 s clip", fit("audio", "{d}/tone.wav", "--start", "5"),
         "is outside audio"),
    Case("audio-start-negative", "`--start -1`", fit("audio", "{d}/tone.wav", "--start", "-1"),
         "--start must be ≥ 0 seconds"),
    Case("audio-duration-0", "`--duration 0`", fit("audio", "{d}/tone.wav", "--duration", "0"),
         "--duration must be a positive number"),
    Case("audio-duration-tiny", "`--duration 0.00001` (under one sample)",
         fit("audio", "{d}/tone.wav", "--duration", "0.00001"), "has 0 sample(s) in the chosen window"),
    Case("audio-batch-negative", "`--batch-samples -1`", fit("audio", "{d}/tone.wav", "--batch-samples", "-1"),
         "--batch-samples must be ≥ 0"),
    Case("audio-chunk-0", "`fit audio --chunk 0`", fit("audio", "{d}/tone.wav", "--chunk", "0"), "--chunk must be ≥ 1"),
    # ---- video
    Case("video-missing", "`fit video missing.mp4`", fit("video", "{d}/missing.mp4"), "does not exist"),
    Case("video-empty", "an empty MP4 (0 bytes)", fit("video", "{d}/empty.mp4"), "is empty (0 bytes)"),
    Case("video-corrupt", "random bytes named `noise.mp4`", fit("video", "{d}/noise.mp4"), "could not read video"),
    Case("video-cut", "an MP4 cut after 200 bytes", fit("video", "{d}/cut.mp4"), "could not read video"),
    Case("video-empty-folder", "an empty folder", fit("video", "{d}/empty_folder"), "holds no image frames"),
    Case("video-folder-no-frames", "a folder without image files", fit("video", "{d}/no_frames"),
         "holds no image frames"),
    Case("video-frame-sizes", "frames of different sizes", fit("video", "{d}/mixed"),
         "every frame must have the same size"),
    Case("video-broken-frame", "a folder with one corrupt frame", fit("video", "{d}/broken_frame"),
         "could not read image"),
    Case("video-frames-past-end", "`--frames 9` on a 5-frame clip", fit("video", "{d}/clip.mp4", "--frames", "9"),
         "--frames 9 asks for more than the 5 frames"),
    Case("video-start-past-end", "`--start-frame 7` on a 5-frame clip",
         fit("video", "{d}/clip.mp4", "--start-frame", "7"), "is past the end"),
    Case("video-frames-negative", "`--frames -1`", fit("video", "{d}/clip.mp4", "--frames", "-1"),
         "--frames must be ≥ 0"),
    Case("video-start-negative", "`--start-frame -1`", fit("video", "{d}/clip.mp4", "--start-frame", "-1"),
         "--start-frame must be ≥ 0"),
    Case("video-sample-frac-0", "`--sample-frac 0`", fit("video", "{d}/clip.mp4", "--sample-frac", "0"),
         "--sample-frac must be in (0, 1]"),
    Case("video-size-1", "`fit video --size 1`", fit("video", "{d}/clip.mp4", "--size", "1"), "--size must be ≥ 2"),
    Case("video-fps-negative", "`--fps -1`", fit("video", "{d}/clip.mp4", "--fps", "-1"), "--fps must be ≥ 0"),
    Case("video-eval-frames-negative", "`--eval-frames -1`", fit("video", "{d}/clip.mp4", "--eval-frames", "-1"),
         "--eval-frames must be ≥ 0"),
    Case("video-chunk-0", "`fit video --chunk 0`", fit("video", "{d}/clip.mp4", "--chunk", "0"), "--chunk must be ≥ 1"),
    # ---- point clouds and meshes (fit sdf)
    Case("sdf-missing", "`fit sdf missing.xyz`", fit("sdf", "{d}/missing.xyz"), "does not exist"),
    Case("sdf-folder", "a folder named `folder.ply`", fit("sdf", "{d}/folder.ply"), "is a folder, not a file"),
    Case("sdf-empty", "an empty `.xyz`", fit("sdf", "{d}/empty.xyz"), "is empty (0 bytes)"),
    Case("xyz-4-columns", "`.xyz` rows of 4 numbers", fit("sdf", "{d}/four.xyz"), "rows have 4 numbers"),
    Case("xyz-text", "`.xyz` holding words", fit("sdf", "{d}/text.xyz"), "not a table of numbers"),
    Case("xyz-ragged", "`.xyz` rows of 6 then 3 numbers", fit("sdf", "{d}/ragged.xyz"), "not a table of numbers"),
    Case("xyz-only-comments", "`.xyz` holding only `#` comment lines", fit("sdf", "{d}/comments.xyz"),
         "point cloud {d}/comments.xyz holds no points"),  # and no numpy 'input contained no data' warning
    Case("xyz-only-whitespace", "`.xyz` holding only blank lines and whitespace", fit("sdf", "{d}/blank.xyz"),
         "point cloud {d}/blank.xyz holds no points"),
    Case("xyz-nan", "`.xyz` with a NaN coordinate", fit("sdf", "{d}/nan.xyz"),
         "1 point(s) have NaN or infinite coordinates"),
    Case("xyz-zero-normals", "`.xyz` with 5 of 40 normals (0, 0, 0)", fit("sdf", "{d}/zero_normals.xyz"),
         "5 of 40 normals are zero-length or not finite"),
    Case("xyz-no-normals", "`.xyz` of `x y z` only", fit("sdf", "{d}/bare.xyz"),
         "has no normals (nx ny nz); pass --estimate-normals"),
    Case("ply-cloud-no-normals", "a `.ply` point cloud without normals", fit("sdf", "{d}/cloud.ply"), "has no normals"),
    Case("xyz-too-few", "`.xyz` of 5 points", fit("sdf", "{d}/few.xyz"), "has 5 point(s); at least 16 are needed"),
    Case("sdf-unknown-suffix", "`shape.vtk`", fit("sdf", "{d}/shape.vtk"), "unknown format '.vtk'"),
    Case("sdf-no-suffix", "a file without suffix", fit("sdf", "{d}/shape"), "unknown format '(no suffix)'"),
    # "not a valid STL file" is sirenkit's own reason when trimesh gives up on binary junk; with other optional
    # modules installed trimesh may give its own reason, followed by "(not a valid STL file?)": both pass.
    Case("stl-corrupt", "random bytes named `noise.stl`", fit("sdf", "{d}/noise.stl"),
         ("could not read {d}/noise.stl: ", "not a valid STL file")),
    Case("stl-tiny", "27 bytes of junk named `tiny.stl`", fit("sdf", "{d}/tiny.stl"),
         "mesh {d}/tiny.stl holds no triangles: the file is empty or damaged"),
    Case("stl-cut", "a binary STL cut in half", fit("sdf", "{d}/cut.stl"),
         ("could not read {d}/cut.stl: ", "not a valid STL file")),
    Case("ply-corrupt", "random bytes named `noise.ply`", fit("sdf", "{d}/noise.ply"),
         ("could not read {d}/noise.ply: ", "(not a valid PLY file?)")),
    Case("obj-corrupt", "an OBJ whose face names missing vertices", fit("sdf", "{d}/broken.obj"),
         ("could not read {d}/broken.obj: ", "(not a valid OBJ file?)")),
    Case("mesh-flat", "a mesh of degenerate triangles", fit("sdf", "{d}/flat.ply"), "has zero surface area"),
    Case("mesh-nan", "a mesh with a NaN vertex", fit("sdf", "{d}/nan_vertex.obj"),
         "has NaN or infinite vertex coordinates"),
    Case("reference-point-cloud", "`--reference good.xyz`", fit("sdf", "{d}/good.xyz", "--reference", "{d}/good.xyz"),
         "is a point cloud (.xyz); a triangle mesh"),
    Case("reference-no-faces", "`--reference cloud.ply`", fit("sdf", "{d}/good.xyz", "--reference", "{d}/cloud.ply"),
         "has no triangles"),
    Case("reference-missing", "`--reference missing.ply`", fit("sdf", "{d}/good.xyz", "--reference", "{d}/missing.ply"),
         "reference mesh"),
    Case("batch-points-0", "`--batch-points 0`", fit("sdf", "{d}/good.xyz", "--batch-points", "0"),
         "--batch-points must be ≥ 1"),
    Case("mesh-resolution-4", "`--mesh-resolution 4`", fit("sdf", "{d}/good.xyz", "--mesh-resolution", "4"),
         "--mesh-resolution must be 0 or ≥ 8"),
    Case("mesh-resolution-negative", "`--mesh-resolution -1`", fit("sdf", "{d}/good.xyz", "--mesh-resolution", "-1"),
         "--mesh-resolution must be 0 or ≥ 8"),
    Case("sdf-chunk-0", "`fit sdf --chunk 0`", fit("sdf", "{d}/good.xyz", "--chunk", "0"), "--chunk must be ≥ 1"),
    Case("margin-1", "`--margin 1`", fit("sdf", "{d}/good.xyz", "--margin", "1"), "--margin must be in [0, 1)"),
    Case("surface-samples-0", "`--surface-samples 0`", fit("sdf", "--surface-samples", "0"),
         "--surface-samples must be ≥ 1"),
    Case("eval-samples-0", "`--eval-samples 0`", fit("sdf", "--eval-samples", "0"), "--eval-samples must be ≥ 1"),
    Case("fscore-threshold-0", "`--fscore-threshold 0`", fit("sdf", "--fscore-threshold", "0"),
         "--fscore-threshold must be > 0"),
    Case("loss-weight-negative", "`--surface-weight -1`", fit("sdf", "--surface-weight", "-1"),
         "loss weights must be ≥ 0"),
    Case("falloff-0", "`--off-surface-falloff 0`", fit("sdf", "--off-surface-falloff", "0"),
         "--off-surface-falloff must be > 0"),
    Case("shape-unknown", "`--shape cube`", fit("sdf", "--shape", "cube"), "argument --shape: invalid choice: 'cube'"),
    # ---- PDE solvers (solve helmholtz, invert helmholtz)
    Case("helmholtz-k-negative", "`solve helmholtz --k -1`", fit("helmholtz", "--k", "-1"),
         "--k must be a positive number"),
    Case("helmholtz-source-in-pml", "`solve helmholtz --source 0.8,0`", fit("helmholtz", "--source", "0.8,0"),
         "lies in the PML"),
    Case("helmholtz-source-words", "`solve helmholtz --source a,b`", fit("helmholtz", "--source", "a,b"),
         "must be two numbers X,Y"),
    Case("helmholtz-velocity-choice", "`solve helmholtz --velocity sand`", fit("helmholtz", "--velocity", "sand"),
         "invalid choice: 'sand'"),
    Case("helmholtz-sigma-0", "`solve helmholtz --source-sigma 0`", fit("helmholtz", "--source-sigma", "0"),
         "--source-sigma must be > 0"),
    Case("wave-front-reaches-edge", "`solve wave --t-end 0.9`", fit("wave", "--t-end", "0.9"),
         "the wave front reaches the edge"),
    Case("wave-sigma-large", "`solve wave --source-sigma 0.5`", fit("wave", "--source-sigma", "0.5"),
         "--source-sigma must be in (0, 0.25]"),
    Case("wave-window-0", "`solve wave --window-steps 0`", fit("wave", "--window-steps", "0"),
         "--window-steps must be ≥ 1"),
    Case("fwi-missing", "`invert helmholtz missing.mat`", fit("fwi", "{d}/missing.mat"), "does not exist"),
    Case("fwi-not-matlab", "random bytes named `noise.mat`", fit("fwi", "{d}/noise.mat"),
         "is not a readable MATLAB .mat file"),
    Case("fwi-missing-keys", "a `.mat` holding only `source`", fit("fwi", "{d}/keys.mat"),
         "lacks receivers, rec_val"),
    Case("fwi-wrong-shape", "`rec_val` of 5 × 3 for 3 receivers and 5 sources", fit("fwi", "{d}/shape.mat"),
         "must be receivers × sources = 3 × 5, got 5 × 3"),
    Case("fwi-nan", "a receiver value NaN", fit("fwi", "{d}/nan.mat"), "holds NaN or infinite numbers"),
    Case("fwi-receiver-in-pml", "a receiver at (0.1, 0.7), inside the PML", fit("fwi", "{d}/far.mat"),
         "must lie inside the PML's inner square"),
    Case("fwi-cylinder-words", "`invert helmholtz --cylinder 0,0,r,2`", fit("fwi", "--cylinder", "0,0,r,2"),
         "--cylinder must be four numbers"),
    Case("fwi-cylinder-radius-0", "`invert helmholtz --cylinder 0,0,0,2`", fit("fwi", "--cylinder", "0,0,0,2"),
         "the radius and velocity > 0"),
    # ---- space of SIRENs (meta train, meta eval, meta inpaint)
    Case("meta-data-missing", "`meta train missing` (no such folder)", fit("meta", "{d}/missing"),
         "data folder {d}/missing does not exist"),
    Case("meta-data-file", "`meta train a_file` (a file)", fit("meta", "{d}/a_file"),
         "is a file; give a folder of images"),
    Case("meta-data-empty", "`meta train empty_folder`", fit("meta", "{d}/empty_folder"), "holds no images"),
    Case("meta-data-no-images", "`meta train FOLDER` holding only a text file", fit("meta", "{d}/no_frames"),
         "holds no images"),
    Case("meta-data-one-image", "`meta train FOLDER` holding one image", fit("meta", "{d}/one_image"),
         "holds only one image"),
    Case("meta-data-corrupt", "a folder with a corrupt image among good ones", fit("meta", "{d}/broken_frame"),
         "could not read image {d}/broken_frame/f2.png"),
    Case("meta-split-empty", "`train/` and an empty `test/` subfolder", fit("meta", "{d}/split_empty"),
         "split_empty/test holds no images"),
    Case("meta-celeba-partition", "CelebA layout with a bad `list_eval_partition.txt` line",
         fit("meta", "{d}/celeba_bad"), "line 1: expected 'NAME.jpg 0|1|2'"),
    Case("meta-size-small", "`meta train --size 8`", fit("meta", "--size", "8"), "--size must be ≥ 10"),
    Case("meta-context-range", "`--context-min 60 --context-max 50`", fit("meta", "--context-min", "60"),
         "--context-min and --context-max must satisfy"),
    Case("meta-context-above-pixels", "`--context-max 200` on 12² images", fit("meta", "--context-max", "200"),
         "1 ≤ min ≤ max ≤ 144"),
    Case("meta-batch-0", "`meta train --batch-size 0`", fit("meta", "--batch-size", "0"), "--batch-size must be ≥ 1"),
    Case("meta-test-fraction", "`--test-fraction 1`", fit("meta", "--test-fraction", "1"),
         "--test-fraction must be in (0, 1)"),
    Case("meta-activation", "`meta train --activation relu`", fit("meta", "--activation", "relu"),
         "--activation must be sine"),
    Case("meta-encoder-unknown", "`meta train --encoder rnn`", fit("meta", "--encoder", "rnn"),
         "argument --encoder: invalid choice: 'rnn'"),
    Case("meta-eval-image-run", "`meta eval IMAGE-RUN`",
         lambda e: ["meta", "eval", str(e.image_run), "--device", "cpu"],
         "is a run of task 'image'; `sirenkit meta eval` needs a `meta train` run"),
    Case("meta-eval-missing-run", "`meta eval FOLDER/missing`", lambda e: ["meta", "eval", str(e.tmp / "missing")],
         "run {tmp}/missing does not exist"),
    Case("meta-eval-context-words", "`meta eval RUN --context ten`",
         lambda e: ["meta", "eval", str(e.meta_run), "--context", "ten", "--device", "cpu"],
         "--context must be a comma-separated list of pixel counts or 'half'"),
    Case("meta-eval-context-too-many", "`meta eval RUN --context 1000` on a 12² run",
         lambda e: ["meta", "eval", str(e.meta_run), "--context", "1000", "--device", "cpu"],
         "--context: 1000 context pixels is outside 1 … 144"),
    Case("meta-eval-images-negative", "`meta eval RUN --images -1`",
         lambda e: ["meta", "eval", str(e.meta_run), "--images", "-1"], "--images must be ≥ 0"),
    Case("meta-eval-json-is-folder", "`meta eval RUN --json FOLDER` (a folder)",
         lambda e: ["meta", "eval", str(e.meta_run), "--json", e.d("somedir")], "is a folder; give a file name"),
    Case("meta-inpaint-image-missing", "`meta inpaint RUN missing.png`",
         lambda e: ["meta", "inpaint", str(e.meta_run), e.d("missing.png"), "--out", str(e.tmp / "x.png"),
                    "--device", "cpu"], "image {d}/missing.png does not exist"),
    Case("meta-inpaint-out-suffix", "`meta inpaint RUN base.png --out x.jpg`",
         lambda e: ["meta", "inpaint", str(e.meta_run), e.d("base.png"), "--out", str(e.tmp / "x.jpg")],
         "give a .png file name"),
    Case("meta-inpaint-context-list", "`meta inpaint RUN base.png --context 10,20`",
         lambda e: ["meta", "inpaint", str(e.meta_run), e.d("base.png"), "--context", "10,20",
                    "--out", str(e.tmp / "x.png"), "--device", "cpu"], "--context takes one size"),
    Case("meta-inpaint-sdf-run", "`meta inpaint SDF-RUN base.png`",
         lambda e: ["meta", "inpaint", str(e.sdf_run), e.d("base.png"), "--out", str(e.tmp / "x.png"),
                    "--device", "cpu"], "is a run of task 'sdf'; `sirenkit meta inpaint` needs a `meta train` run"),
    Case("render-meta-run", "`render META-RUN`", lambda e: ["render", str(e.meta_run), "--device", "cpu"],
         "reconstruct an image with `sirenkit meta inpaint RUN IMAGE`"),
    # ---- eval-mesh
    Case("eval-mesh-point-cloud", "`eval-mesh good.xyz sphere.ply`",
         lambda e: ["eval-mesh", e.d("good.xyz"), e.d("sphere.ply"), "--samples", "100"], "is a point cloud (.xyz)"),
    Case("eval-mesh-no-faces", "`eval-mesh sphere.ply cloud.ply`",
         lambda e: ["eval-mesh", e.d("sphere.ply"), e.d("cloud.ply"), "--samples", "100"], "has no triangles"),
    Case("eval-mesh-missing", "`eval-mesh sphere.ply missing.ply`",
         lambda e: ["eval-mesh", e.d("sphere.ply"), e.d("missing.ply"), "--samples", "100"], "ground-truth mesh"),
    Case("eval-mesh-samples-0", "`eval-mesh … --samples 0`",
         lambda e: ["eval-mesh", e.d("sphere.ply"), e.d("sphere.stl"), "--samples", "0"],
         "--samples must be ≥ 1, got 0"),
    Case("eval-mesh-threshold-0", "`eval-mesh … --threshold 0`",
         lambda e: ["eval-mesh", e.d("sphere.ply"), e.d("sphere.stl"), "--samples", "100", "--threshold", "0"],
         "--threshold must be > 0"),
    Case("eval-mesh-json-no-folder", "`eval-mesh … --json FOLDER/missing/metrics.json`",
         lambda e: ["eval-mesh", e.d("sphere.ply"), e.d("sphere.stl"), "--samples", "100",
                    "--json", str(e.tmp / "missing" / "metrics.json")],
         "--json: folder {tmp}/missing does not exist"),
    Case("eval-mesh-json-is-folder", "`eval-mesh … --json FOLDER` (a folder)",
         lambda e: ["eval-mesh", e.d("sphere.ply"), e.d("sphere.stl"), "--samples", "100", "--json", e.d("somedir")],
         "--json {d}/somedir is a folder; give a file name"),
    # ---- mesh
    Case("mesh-image-run", "`mesh RUN` on an image run",
         lambda e: ["mesh", str(e.image_run), "--resolution", "16", "--device", "cpu"],
         "is a run of task 'image'; `sirenkit mesh` needs an sdf run"),
    Case("mesh-no-surface", "`mesh RUN --level 100`: the network never reaches that level",
         lambda e: ["mesh", str(e.sdf_run), "--resolution", "16", "--level", "100", "--device", "cpu"],
         "has no zero level set"),
    Case("mesh-resolution-low", "`mesh RUN --resolution 4`", lambda e: ["mesh", str(e.sdf_run), "--resolution", "4"],
         "--resolution must be ≥ 8, got 4"),
    Case("mesh-chunk-0", "`mesh RUN --chunk 0`", lambda e: ["mesh", str(e.sdf_run), "--chunk", "0"],
         "--chunk must be ≥ 1, got 0"),
    Case("mesh-min-component-1", "`mesh RUN --min-component 1`",
         lambda e: ["mesh", str(e.sdf_run), "--min-component", "1"], "--min-component must be in [0, 1), got 1.0"),
    Case("sdf-mesh-min-component-neg", "`fit sdf --mesh-min-component -0.1`",
         fit("sdf", "--mesh-min-component", "-0.1"), "--mesh-min-component must be in [0, 1)"),
    Case("mesh-out-suffix", "`mesh RUN --out FOLDER/mesh.txt`",
         lambda e: ["mesh", str(e.sdf_run), "--out", str(e.tmp / "mesh.txt")],
         "use a file name ending in .ply, .obj, .stl, .off, .glb"),
    # --level 100: were the folder checked only after extraction, the line would say "no zero level set"
    Case("mesh-out-is-folder", "`mesh RUN --out FOLDER.ply` (a folder)",
         lambda e: ["mesh", str(e.sdf_run), "--resolution", "16", "--level", "100", "--out", e.d("folder.ply"),
                    "--device", "cpu"],
         "--out {d}/folder.ply is a folder; give a file name ending in .ply, .obj, .stl, .off, .glb"),
    Case("mesh-missing-run", "`mesh FOLDER/missing` (no such folder)",
         lambda e: ["mesh", str(e.tmp / "missing"), "--device", "cpu"], "error: run {tmp}/missing does not exist"),
    # ---- render
    Case("render-not-a-run", "`render FOLDER` without a checkpoint", lambda e: ["render", str(e.tmp)],
         "no checkpoint at"),
    Case("render-a-file", "`render a_file` (a text file)", lambda e: ["render", e.d("a_file")],
         "is damaged or not a safetensors file"),
    Case("render-size-0", "`render RUN --size 0`", lambda e: ["render", str(e.image_run), "--size", "0"],
         "--size must be ≥ 2, got 0"),
    Case("render-size-1", "`render RUN --size 1`", lambda e: ["render", str(e.image_run), "--size", "1"],
         "--size must be ≥ 2, got 1"),
    Case("render-frames-0", "`render RUN --frames 0`", lambda e: ["render", str(e.image_run), "--frames", "0"],
         "--frames must be ≥ 1"),
    Case("render-chunk-0", "`render RUN --chunk 0`", lambda e: ["render", str(e.image_run), "--chunk", "0"],
         "--chunk must be ≥ 1"),
    Case("render-device-unknown", "`render RUN --device tpu`",
         lambda e: ["render", str(e.image_run), "--device", "tpu"], "is not a device name"),
    Case("render-out-no-folder", "`render RUN --out FOLDER/missing/x.png`",
         lambda e: ["render", str(e.image_run), "--out", str(e.tmp / "missing" / "x.png"), "--device", "cpu"],
         "--out: folder"),
    Case("render-out-is-folder", "`render RUN --out somedir` (a folder)",
         lambda e: ["render", str(e.image_run), "--out", e.d("somedir"), "--device", "cpu"],
         "is a folder; give a file name"),
    Case("render-out-suffix", "`render IMAGE-RUN --out x.xyz`",
         lambda e: ["render", str(e.image_run), "--out", str(e.tmp / "x.xyz"), "--device", "cpu"],
         "cannot write an image as x.xyz"),
    # ---- checkpoints
    Case("checkpoint-truncated", "`render RUN`, checkpoint cut in half", lambda e: ["render", str(_truncated(e))],
         "is damaged or not a safetensors file"),
    Case("checkpoint-truncated-resume", "`fit image --resume --out RUN`, checkpoint cut in half",
         lambda e: ["fit", "image", "--resume", "--out", str(_truncated(e)), "--steps", "4", "--quiet"],
         "is damaged or not a safetensors file"),
    Case("checkpoint-pickle", "a `torch.save` pickle as checkpoint", lambda e: ["render", str(_pickled(e))],
         "is damaged or not a safetensors file"),
    Case("checkpoint-foreign", "a safetensors file not written by sirenkit", lambda e: ["render", str(_foreign(e))],
         "was not written by sirenkit"),
    Case("checkpoint-meta-json", "checkpoint metadata that is not JSON", lambda e: ["render", str(_bad_meta_json(e))],
         "has damaged metadata"),
    Case("checkpoint-meta-list", "checkpoint metadata that is a JSON list",
         lambda e: ["render", str(_with_checkpoint(e, lambda t, m: (t, [1, 2])))], "has damaged metadata"),
    Case("checkpoint-no-model", "metadata without the network",
         lambda e: ["render", str(_with_checkpoint(e, _drop("model")))], "does not describe its network"),
    Case("checkpoint-model-incomplete", "network description without `in_features`",
         lambda e: ["render", str(_with_checkpoint(e, _drop("in_features", "model")))],
         "describes its network incompletely"),
    Case("checkpoint-model-huge", "network description with `hidden_features` 10³⁰",
         lambda e: ["render", str(_with_checkpoint(
             e, lambda t, m: (t, {**m, "model": {**m["model"], "hidden_features": 10**30}})))],
         "describes its network incompletely or impossibly"),
    Case("checkpoint-wrong-shape", "a weight of the wrong shape",
         lambda e: ["render", str(_with_checkpoint(e, _wrong_shape))], "does not match the network it describes"),
    Case("checkpoint-unknown-task", "metadata naming task `hologram`",
         lambda e: ["render", str(_with_checkpoint(e, _set("task", "hologram")))], "unknown task 'hologram'"),
    Case("checkpoint-no-signal", "metadata without the signal's size",
         lambda e: ["render", str(_with_checkpoint(e, _drop("height", "signal"))), "--device", "cpu"],
         "lacks 'height'"),
    Case("resume-no-checkpoint", "`--resume` on a run whose checkpoint was deleted",
         lambda e: ["fit", "image", "--resume", "--out", str(_no_checkpoint(e)), "--quiet"],
         "holds no sirenkit run with a checkpoint"),
    # ---- config files
    Case("config-missing", "`--config nope.json`", config("nope.json"), "does not exist"),
    Case("config-folder", "`--config somedir` (a folder)", config("somedir"),
         "is a folder; give the config.json inside it"),
    Case("config-invalid-json", "config file holding `{not json`", config("invalid.json"), "is not valid JSON"),
    Case("config-not-utf8", "config file in Latin-1, not UTF-8", config("latin1.json"), "is not valid JSON"),
    Case("config-not-object", "config file holding a JSON list", config("list.json"), "must hold a JSON object"),
    Case("config-unknown-key", "config file with a top-level key `colour`", config("unknown_key.json"),
         "unknown key(s) colour"),
    Case("config-other-task", "config file of an audio run given to `fit image`", config("other_task.json"),
         "the config is for task 'audio', not 'image'"),
    Case("config-unknown-setting", "config file with `\"task\": {\"sise\": 16}`", config("unknown_setting.json"),
         "task settings: unknown setting(s) sise"),
    Case("config-wrong-type", "config file with `\"steps\": \"ten\"`", config("wrong_type.json"),
         "--steps must be an integer (got 'ten')"),
    Case("config-null", "config file with `\"steps\": null`", config("null.json"), "--steps needs a value (got null)"),
    Case("config-bad-choice", "config file with `\"activation\": \"swish\"`", config("bad_choice.json"),
         "--activation must be one of"),
    Case("config-section-not-object", "config file with `\"task\": [16]`", config("section_list.json"),
         "'task' must be an object of settings"),
    Case("config-recipe-unknown", "config file with `\"recipe\": \"fast\"`", config("bad_recipe.json"),
         "--recipe must be one of"),
    Case("config-steps-negative", "config file with `\"steps\": -5`", config("negative_steps.json"),
         "--steps must be ≥ 1"),
    # ---- the output folder
    Case("out-is-file", "`--out a_file` (a text file)",
         lambda e: ["fit", "image", "--out", e.d("a_file"), *TASK_QUICK["image"], *QUICK], "is a file, not a folder"),
    Case("out-under-file", "`--out a_file/run` (cannot be created: `a_file` is a file)",
         lambda e: ["fit", "image", "--out", e.d("a_file") + "/run", *TASK_QUICK["image"], *QUICK],
         "cannot write to output folder"),
    Case("out-read-only", "`--out` inside a read-only folder (skipped as root)", _read_only_out,
         "cannot write to output folder", (pytest.mark.skipif(ROOT, reason="root may write anywhere"),)),
    Case("out-not-a-run", "`--out` a non-empty folder that is no run",
         lambda e: ["fit", "image", "--out", e.d("not_a_run"), *TASK_QUICK["image"], *QUICK],
         "is not empty and holds no sirenkit run"),
    Case("out-not-a-run-overwrite", "the same with `--overwrite`",
         lambda e: ["fit", "image", "--out", e.d("not_a_run"), "--overwrite", *TASK_QUICK["image"], *QUICK],
         "is not empty and holds no sirenkit run"),
    Case("out-holds-run", "`--out RUN` without `--resume`/`--overwrite`",
         lambda e: ["fit", "image", "--out", str(e.image_run), *TASK_QUICK["image"], *QUICK], "already holds a run"),
    Case("resume-without-out", "`--resume` without `--out`", lambda e: ["fit", "image", "--resume", "--quiet"],
         "--resume needs --out"),
    Case("resume-empty-folder", "`--resume --out FOLDER` (an empty folder)",
         lambda e: ["fit", "image", "--resume", "--out", str(e.tmp), "--quiet"],
         "holds no sirenkit run with a checkpoint"),
    Case("resume-lr-differs", "`--resume --lr 0.5` (the run used 0.001)",
         lambda e: ["fit", "image", "--resume", "--out", str(e.run_copy()), "--lr", "0.5", "--quiet"],
         "--resume: --lr 0.5 differs from the run's 0.001"),
    Case("resume-size-differs", "`--resume --size 32` (the run used 16)",
         lambda e: ["fit", "image", "--resume", "--out", str(e.run_copy()), "--size", "32", "--quiet"],
         "--resume: --size 32 differs from the run's 16"),
    Case("resume-activation-differs", "`--resume --activation relu`",
         lambda e: ["fit", "image", "--resume", "--out", str(e.run_copy()), "--activation", "relu", "--quiet"],
         "--resume: --activation relu differs from the run's sine"),
    Case("resume-other-task", "`fit audio --resume --out IMAGE-RUN`",
         lambda e: ["fit", "audio", "--resume", "--out", str(e.run_copy()), "--quiet"],
         "the config is for task 'image', not 'audio'"),
]



@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=c.marks) for c in CASES])
def test_bad_input(case: Case, data, image_run, sdf_run, meta_run, tmp_path, capsys, monkeypatch):
    check_case(case, Env(data, image_run, sdf_run, tmp_path, meta_run), capsys, monkeypatch)


def test_no_command_prints_help_and_exits_2(capsys):
    code = main([])
    captured = capsys.readouterr()
    assert code == 2
    assert "usage: sirenkit" in captured.out and "COMMAND" in captured.out
    assert captured.err == ""


def test_case_ids_are_unique():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))


# ------------------------------------------------------------------------------------------ the CLI as a whole
def test_cli_subprocess_missing_image_writes_no_default_run(tmp_path):
    """In a process of its own, as a user runs it: exit code 2, one line on stderr (no traceback), and with no
    --out the default runs/… folder does not appear either. (The other cases here run in-process: run_cli.)"""
    proc = run_cli("fit", "image", "missing.png", "--device", "cpu", cwd=tmp_path, timeout=120, process=True)
    assert proc.returncode == 2
    assert "missing.png does not exist" in one_line_error(proc.stderr)
    assert list(tmp_path.iterdir()) == []


def test_cli_bad_point_cloud(tmp_path):
    bad = tmp_path / "scan.xyz"
    bad.write_text("1 2 3 4\n5 6 7 8\n")
    proc = run_cli("fit", "sdf", str(bad), "--out", str(tmp_path / "run"), "--device", "cpu")
    assert proc.returncode == 2
    assert "rows have 4 numbers" in one_line_error(proc.stderr)
    assert not (tmp_path / "run").exists()


def test_cli_tampered_checkpoint(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text("{}")
    (run / CHECKPOINT).write_bytes(b"\x80\x04\x95" + bytes(200))  # a pickle's opening bytes: never unpickled
    proc = run_cli("render", str(run), "--out", str(tmp_path / "x.png"))
    assert proc.returncode == 2
    assert "is damaged or not a safetensors file" in one_line_error(proc.stderr)
    assert not (tmp_path / "x.png").exists()


def test_cli_unknown_subcommand():
    proc = run_cli("fit", "hologram")
    assert proc.returncode == 2
    assert "invalid choice: 'hologram'" in one_line_error(proc.stderr)


# ------------------------------------------------------------------------------------------------ direct calls
def _direct_cases():
    from sirenkit.io.audio import audio_from_array, save_audio
    from sirenkit.io.images import image_from_array, save_image
    from sirenkit.io.meshes import save_mesh
    from sirenkit.io.video import write_video

    frames = np.zeros((2, 8, 8, 3), np.uint8)
    return [
        ("api-image-4d",
         lambda tmp: image_from_array(np.zeros((2, 4, 4, 3), np.uint8), "stack"),
         "expected a single 2-D image"),
        ("api-image-complex",
         lambda tmp: image_from_array(np.zeros((4, 4), np.complex64), "complex"),
         "unsupported pixel type"),
        ("api-audio-rate-0", lambda tmp: audio_from_array(np.zeros(10), 0, "clip"), "expected a positive rate"),
        ("api-audio-3d",
         lambda tmp: audio_from_array(np.zeros((4, 2, 2)), 8000, "clip"),
         "expected (samples,) or (samples, channels)"),
        ("api-save-audio-suffix",
         lambda tmp: save_audio(tmp / "x.mp3", np.zeros(10), 8000),
         "use a .wav, .flac or .ogg name"),
        ("api-save-image-suffix",
         lambda tmp: save_image(tmp / "x.xyz", np.zeros((4, 4))),
         "cannot write an image as x.xyz"),
        ("api-write-video-suffix", lambda tmp: write_video(tmp / "x.gif", frames, 25.0), "cannot write video"),
        ("api-write-video-fps-0", lambda tmp: write_video(tmp / "x.mp4", frames, 0.0), "frame rate must be positive"),
        ("api-save-mesh-suffix", lambda tmp: save_mesh(tmp / "x.dae", np.eye(3), np.array([[0, 1, 2]])),
         "use a file name ending in .ply, .obj, .stl, .off, .glb"),
    ]


@pytest.mark.parametrize("name,action,needle", _direct_cases(), ids=[c[0] for c in _direct_cases()])
def test_bad_input_direct_call(name, action, needle, tmp_path):
    with pytest.raises(UserError) as exc:
        action(tmp_path)
    assert needle in str(exc.value)
    assert "\n" not in str(exc.value)
    assert list(tmp_path.iterdir()) == []
