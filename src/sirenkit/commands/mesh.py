"""`sirenkit mesh` (marching cubes over a finished sdf run) and `sirenkit eval-mesh` (Chamfer, normal consistency
and F-score of one mesh against another); `mesh_run` and `eval_mesh` are also the Python API's `sirenkit.mesh` and
`sirenkit.eval_mesh`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import (
    DEFAULT_CHUNK,
    MAX_SEED,
    REQUIRED,
    check_number,
    chunk_option,
    device_option,
    json_option,
    option,
    overwrite_option,
)
from ..errors import UserError
from ..geometry.meshing import (
    Field,
    MeshResult,
    NonFiniteField,
    drop_small_components,
    extract_mesh,
    field_from_model,
    normals_from_model,
    peak_rss_mb,
)
from ..geometry.pointcloud import Normalisation
from ..io.atomic import dumps_json, save_npy, write_json
from ..io.files import require_output_file
from ..io.meshes import MESH_OUT_SUFFIXES, load_mesh
from ..runs.folder import writing_outputs
from ..tasks.base import amount, shown
from ..tasks.sdf import EVAL_SAMPLES, MESH_RESOLUTION, SdfTask, preview_path, write_mesh_outputs
from ..tasks.stored import checked_signal
from .registry import Command, register


def mesh_run(run_dir: str | Path, resolution: int = 512, out: str | Path | None = None, chunk: int = DEFAULT_CHUNK,
             device: str = "auto", level: float = 0.0, min_component: float = 0.0,
             overwrite: bool = False, normalised: bool = False,
             grid: str | Path | None = None) -> tuple[Path, MeshResult]:
    """Mesh the zero level set of a finished SDF run (`sirenkit mesh`); returns the mesh path and its stats.
    The mesh is in the input's units (`normalised`: the network's [−1, 1]³), in the format of `out`'s suffix,
    with vertex normals from the network's gradient where the format holds them. `min_component` > 0 drops small
    detached parts (`drop_small_components`). `grid` (.npy) also saves the sampled field on the resolution³
    nodes, with a JSON beside it (`<grid>.json`) giving its bounds and units. The outputs are checked first
    (`writing_outputs`: never a file of the run's fit, nor one sirenkit did not write unless `overwrite`); inside
    a run folder they are written under its lock."""
    from ..runs.load import load_run
    from ..train.device import resolve_device

    resolution, chunk = check_number("--resolution", resolution, int), check_number("--chunk", chunk, int)
    level = check_number("--level", level, float)
    min_component = check_number("--min-component", min_component, float)
    if resolution < 8:
        raise UserError(f"--resolution must be ≥ 8, got {resolution}")
    if chunk < 1:
        raise UserError(f"--chunk must be ≥ 1, got {chunk}")
    if not 0.0 <= min_component < 1.0:
        raise UserError(f"--min-component must be in [0, 1), got {min_component}")
    run_dir = Path(run_dir)
    if not run_dir.exists():
        raise UserError(f"run {run_dir} does not exist")
    folder = run_dir if run_dir.is_dir() else run_dir.parent
    path = Path(out) if out is not None else folder / f"mesh-{resolution}.ply"
    if path.suffix.lower() not in MESH_OUT_SUFFIXES:
        raise UserError(f"--out {path}: use a file name ending in {', '.join(MESH_OUT_SUFFIXES)}")
    require_output_file(path, "--out", f"give a file name ending in {', '.join(MESH_OUT_SUFFIXES)}")
    outputs: list[tuple[str | Path, str]] = [(path, "--out"), (preview_path(path), "--out (its preview)")]
    if grid is not None:
        grid = Path(grid)
        if grid.suffix.lower() != ".npy":
            raise UserError(f"--grid {grid}: use a file name ending in .npy (its bounds go to {grid.name}.json)")
        outputs += [(grid, "--grid"), (grid_sidecar(grid), "--grid (its bounds)")]
    MESH_RESOLUTION.check(resolution, f"--resolution {shown(resolution)} would sample a grid of {shown(resolution)}³ "
                          "nodes", "nodes per axis")
    with writing_outputs(outputs, "mesh", overwrite=overwrite, reads=run_dir):
        dev = resolve_device(device)
        model, record = load_run(run_dir, dev)
        if record.get("task") != SdfTask.name:
            raise UserError(f"{run_dir} is a run of task {record.get('task')!r}; `sirenkit mesh` needs an sdf run")
        signal = checked_signal(record, run_dir, SdfTask)
        norm = Normalisation.from_dict(signal["normalisation"])
        field = field_from_model(model, dev, chunk)
        try:
            mesh = extract_mesh(field, resolution, level=level)
        except NonFiniteField:
            raise UserError(f"the network of {run_dir} gives NaN or infinite values; its checkpoint was damaged or "
                            "edited") from None
        if mesh.empty:
            raise UserError(f"the network has no zero level set inside [−1, 1]³ at level {level}; nothing to mesh")
        mesh = drop_small_components(mesh, min_component)
        write_mesh_outputs(mesh, norm, path, normals_from_model(model, dev, chunk), normalised)
        if grid is not None:
            save_grid(grid, field, resolution, norm, normalised)
        mesh.peak_rss_mb = peak_rss_mb()  # writing included
        return path, mesh


def grid_sidecar(grid: Path) -> Path:
    """Where the bounds of a saved grid go: `<name>.npy.json` beside it."""
    return grid.with_name(grid.name + ".json")


def save_grid(path: Path, field: Field, resolution: int, norm: Normalisation, normalised: bool) -> None:
    """The field on resolution³ nodes over the network's [−1, 1]³, as float32 `grid[i, j, k]` at
    (x_i, y_j, z_k), in the input's units (node coordinates and distances; `normalised`: the network's), and a
    JSON beside it with the bounds; evaluated one x-slab at a time (the array itself is resolution³ × 4 bytes)."""
    axis = np.linspace(-1.0, 1.0, resolution)
    values = np.empty((resolution,) * 3, dtype=np.float32)
    b, c = np.meshgrid(axis, axis, indexing="ij")
    for i, x in enumerate(axis):
        slab = np.stack([np.full(b.size, x), b.ravel(), c.ravel()], axis=1)
        values[i] = field(slab).reshape(resolution, resolution)
    if normalised:
        bounds, units = [[-1.0, 1.0]] * 3, "normalised: the network's [−1, 1]³ (x_unit = (x − center) · scale)"
    else:
        values /= norm.scale
        lo, hi = norm.from_unit(np.array([[-1.0] * 3, [1.0] * 3]))
        bounds, units = [[float(lo[k]), float(hi[k])] for k in range(3)], "the input's own units"
    save_npy(path, values)
    write_json(grid_sidecar(path), {
        "file": path.name, "shape": list(values.shape), "bounds": bounds, "units": units,
        "layout": "grid[i, j, k]: the signed distance at (x_i, y_j, z_k), x_i = lo + i·(hi − lo)/(n − 1) per axis",
        "normalisation": norm.as_dict()})


def eval_mesh(pred: str | Path, gt: str | Path, samples: int = 1_000_000, threshold: float = 0.01,
              seed: int = 0) -> dict[str, float]:
    """Chamfer-L1/L2, normal consistency and F-score of mesh file `pred` against mesh file `gt`."""
    from ..geometry.metrics import compare_meshes

    samples, threshold = check_number("--samples", samples, int), check_number("--threshold", threshold, float)
    seed = check_number("--seed", seed, int, 0, MAX_SEED)
    if samples < 1:
        raise UserError(f"--samples must be ≥ 1, got {samples}")
    if not 0 < threshold < float("inf"):  # also refuses NaN, which would make every F-score 0
        raise UserError(f"--threshold must be > 0, got {threshold}")
    EVAL_SAMPLES.check(samples, f"--samples {shown(samples)} would sample each mesh {amount(samples)} times",
                       "samples")
    return compare_meshes(load_mesh(pred, "predicted mesh"), load_mesh(gt, "ground-truth mesh"), samples,
                          threshold, seed)


# ------------------------------------------------------------------------------------------------ the commands
@dataclass(frozen=True)
class MeshConfig:
    """The sdf run to mesh, the grid and the level set."""

    run_dir: str = option(REQUIRED, "folder of a finished `sirenkit fit sdf` run", positional=True, metavar="RUN_DIR")
    resolution: int = option(512, "grid nodes per axis")
    out: str | None = option(None, "mesh file: .ply, .obj, .stl, .off or .glb (vertex normals from the network's "
                                   "gradient in PLY, OBJ and GLB)", default_help="RUN_DIR/mesh-RES.ply")
    normalised: bool = option(False, "write the mesh (and --grid) in the network's [−1, 1]³ frame instead of the "
                                     "input's units")
    grid: str | None = option(None, "also save the sampled signed distance on the resolution³ nodes as .npy "
                                    "(float32, grid[i, j, k] at (x_i, y_j, z_k)), its bounds in GRID.json",
                              metavar="GRID", default_help="none")
    level: float = option(0.0, "iso-level to extract", default_help="0")
    min_component: float = option(0.0, "drop connected parts with fewer than this fraction of the largest part's "
                                        "faces (detached specks; default 0: keep all; e.g. 0.01)", default_help="")
    chunk: int = chunk_option()
    device: str = device_option()
    overwrite: bool = overwrite_option("--out and its preview")


def run_mesh(c: MeshConfig) -> int:
    path, result = mesh_run(c.run_dir, c.resolution, c.out, c.chunk, c.device, c.level, c.min_component,
                            c.overwrite, c.normalised, c.grid)
    removed = f", {result.dropped_components} small parts dropped" if c.min_component > 0 else ""
    print(f"{path}: {len(result.vertices):,} vertices, {len(result.faces):,} faces{removed}, "
          f"{result.evaluated:,} network evaluations, {result.seconds:.1f} s, "
          f"peak resident memory {result.peak_rss_mb:,.0f} MB")
    return 0


@dataclass(frozen=True)
class EvalMeshConfig:
    """The two meshes and how densely to sample them."""

    pred: str = option(REQUIRED, "predicted mesh (.ply/.obj/.off/.stl)", positional=True, metavar="PRED")
    gt: str = option(REQUIRED, "ground-truth mesh (.ply/.obj/.off/.stl)", positional=True, metavar="GT")
    samples: int = option(1_000_000, "surface samples per mesh", default_help="1e6")
    threshold: float = option(0.01, "F-score distance threshold")
    seed: int = option(0, "sampling seed", default_help="")
    json: str | None = json_option()
    overwrite: bool = overwrite_option("--json FILE")


def run_eval_mesh(c: EvalMeshConfig) -> int:
    outputs: list[tuple[str | Path, str]] = [(c.json, "--json")] if c.json else []
    with writing_outputs(outputs, "eval-mesh", overwrite=c.overwrite, inputs=(c.pred, c.gt)):
        metrics = eval_mesh(c.pred, c.gt, c.samples, c.threshold, c.seed)
        if c.json:
            write_json(c.json, metrics)
    print(dumps_json(metrics))
    return 0


register(Command(
    ("mesh",), "extract a triangle mesh from a finished sdf run (marching cubes)", MeshConfig, run_mesh,
    description="Marching cubes over a finished sdf run's network, evaluated sparsely in slabs so memory stays "
                "bounded; writes the mesh in the input's units and a shaded preview PNG beside it.",
    memory_flags="--resolution or --chunk"))
register(Command(
    ("eval-mesh",), "Chamfer, normal consistency and F-score of a mesh against another", EvalMeshConfig,
    run_eval_mesh, description="Compare mesh PRED with ground-truth mesh GT: both are put into GT's frame scaled "
                               "to [−1, 1]³ and sampled; prints the metrics as JSON.",
    memory_flags="--samples"))
