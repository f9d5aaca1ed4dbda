"""sirenkit: sine-activated implicit neural representations (SIREN) as an installable tool.

Top level exports the pieces most users need: `Siren` and `ModelConfig` (the one model builder, SIREN and
every baseline), `diff` (value, gradient and Laplacian by autograd or closed-form forward mode), `fit`
(the Python twin of `sirenkit fit TASK`; `fit("meta", …)` is `sirenkit meta train`), `render`, `mesh`, `eval_mesh`,
`meta_eval`, `meta_inpaint`, `bench_suite`, `bench_activations`, `load_run` (use a finished run's network),
`export_onnx` (a run's network as an ONNX file with a JSON sidecar, `sirenkit export`) and `compress`
(COIN-style quantised image runs, `sirenkit compress`; `sirenkit.compression.load_compressed(path)` gives the
dequantised network back).
"""

from __future__ import annotations

from . import diff  # noqa: E402
from ._version import __version__
from .config import DEFAULT_CHUNK
from .errors import UserError  # noqa: E402
from .models import FieldMLP, ModelConfig, Siren, build_model, count_parameters  # noqa: E402


def fit(task: str, data=None, *, model=None, loss=None, replace_loss: bool = False, callbacks=(), **options):
    """Fit a task with the same options as the CLI (`sirenkit fit image --size 128` == `fit("image", size=128)`).

    `data`: the signal as arrays in memory instead of a file (`fit("image", data=pixels)`; what each task takes:
    docs/api.md). Without `out=FOLDER` nothing is written: the fit trains and evaluates in memory.
    `model`: your own nn.Module mapping (N, d) to (N, m) instead of the built network. `loss`: a callable
    (model, batch) -> {name: scalar tensor} whose terms are added to the task's (or used alone with
    `replace_loss=True`). `callbacks`: functions called with each evaluation's row (step, loss, metric …) or
    `sirenkit.train.callbacks.Callback` objects.
    Returns a `RunResult` with `out_dir` (None in memory), `metrics`, `config`, the trained `model` and the `curve`.
    """
    import dataclasses

    from .runner import Extras, run_task
    from .tasks import get_task
    from .train.callbacks import as_callbacks

    task_cls = get_task(task)
    if data is not None and "data" in {f.name for f in dataclasses.fields(task_cls.Config)}:
        options = {**options, "data": data}  # the task's own DATA option (meta train's image folder)
        data = None
    extras = Extras(data=data, model=model, loss=loss, replace_loss=bool(replace_loss),
                    callbacks=as_callbacks(callbacks), in_memory=options.get("out") is None)
    return run_task(task_cls, options, extras)


def render(run_dir, size=None, out=None, chunk: int = DEFAULT_CHUNK, device: str = "auto", frames=None,
           overwrite: bool = False):
    """Render a finished run at any resolution (`sirenkit render`); returns the written path."""
    from .rendering import render_run

    return render_run(run_dir, size, out, chunk, device, frames, overwrite)


def mesh(run_dir, resolution: int = 512, out=None, chunk: int = DEFAULT_CHUNK, device: str = "auto", level: float = 0.0,
         min_component: float = 0.0, normalised: bool = False, grid=None, overwrite: bool = False):
    """Mesh a finished sdf run (`sirenkit mesh`): the format by `out`'s suffix (.ply, .obj, .stl, .off, .glb),
    vertex normals from the network's gradient, in the input's units unless `normalised`; `grid` (.npy) also
    saves the sampled field with its bounds. Returns (mesh path, MeshResult with its cost)."""
    from .commands.mesh import mesh_run

    return mesh_run(run_dir, resolution, out, chunk, device, level, min_component, overwrite, normalised, grid)


def eval_mesh(pred, gt, samples: int = 1_000_000, threshold: float = 0.01, seed: int = 0) -> dict:
    """Chamfer-L1/L2, normal consistency and F-score of mesh file `pred` against `gt` (`sirenkit eval-mesh`)."""
    from .commands.mesh import eval_mesh as _eval

    return _eval(pred, gt, samples, threshold, seed)


def meta_eval(run_dir, context: str = "10,100,1000,half", images: int = 0, data=None, device: str = "auto",
              json=None, split: str = "test") -> dict:
    """Test-split MSE of a `meta train` run per context size (`sirenkit meta eval`): {'mse_10': …, …};
    `split="validation"` for a run trained with `--eval-split validation`."""
    from .commands.meta import meta_eval as _eval

    return _eval(run_dir, context, images, data, device, json, split=split)


def meta_inpaint(run_dir, image, context: str = "100", out=None, seed: int = 0, device: str = "auto"):
    """Reconstruct `image` from `context` of its pixels with a `meta train` run (`sirenkit meta inpaint`);
    returns (PNG path, MSE)."""
    from .commands.meta import meta_inpaint as _inpaint

    return _inpaint(run_dir, image, str(context), out, seed, device)


def bench_suite(device: str = "auto", quick: bool = False, json=None, threads=None, workloads=None,
                memory: bool = True, target: bool = True, graphs: bool = False) -> dict:
    """Run the benchmark suite (`sirenkit bench suite`): reference vs default per workload (on CUDA with `graphs`,
    also the default path replayed as CUDA graphs); returns {"machine", "rows", "time_to_target", "markdown"}."""
    from .bench.suite import WORKLOADS, run_suite

    return run_suite(device, quick, json, threads, tuple(workloads or WORKLOADS), memory=memory, target=target,
                     graphs=graphs)


def export_onnx(run, path=None, opset: int = 17):
    """Write a run's network as ONNX (input `coords` (N, d) float32, output `values` (N, m)) at `path` (default
    RUN/model.onnx) with `path + ".json"` beside it (`sirenkit export --onnx`); returns the ONNX path."""
    from .export import export_onnx as _export

    return _export(run, path, opset)


def bench_activations(images=None, steps: int = 300, seconds=None, methods=None, **options) -> dict:
    """Every representation on the same images at one parameter budget (`sirenkit bench activations`); returns
    {"machine", "settings", "runs", "summary", "markdown"}. Options as the CLI's (size, batch_pixels, lr_sweep, …)."""
    from .bench.activations import run_activations

    return run_activations(images, steps, seconds, methods, **options)


def compress(run, bits: int = 16, out=None) -> dict:
    """Quantise an image run's weights COIN-style (`sirenkit compress`): float16 (bits=16) or per-tensor uniform
    8-bit; writes RUN/compressed-{bits}bit.safetensors (or `out`) and returns bits, bpp, PSNR and sizes."""
    from .compression import compress as _compress

    return _compress(run, bits, out)


def load_run(path, device="cpu"):
    """(model, metadata) of a run folder or checkpoint file, loaded from safetensors without pickle."""
    from .runs.load import load_run as _load

    return _load(path, device)


__all__ = [
    "FieldMLP",
    "ModelConfig",
    "Siren",
    "UserError",
    "__version__",
    "bench_activations",
    "bench_suite",
    "build_model",
    "compress",
    "count_parameters",
    "diff",
    "eval_mesh",
    "export_onnx",
    "fit",
    "load_run",
    "mesh",
    "meta_eval",
    "meta_inpaint",
    "render",
]
