"""Oriented surfaces in and meshes out: point clouds with normals (.xyz, .ply) and meshes (.ply/.obj/.off/.stl).

Every loader returns points and unit normals as float64 in the file's own units; normalisation into the
network's cube lives in `sirenkit.geometry`. Anything unusable (missing, empty, wrong columns, NaN, no normals)
is a `UserError` naming the file and what to do.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UserError
from .atomic import atomic_path
from .files import require_file

POINT_SUFFIXES = (".xyz", ".ply")
MESH_SUFFIXES = (".ply", ".obj", ".off", ".stl")
MESH_OUT_SUFFIXES = (".ply", ".obj", ".stl", ".off", ".glb")
"""Mesh formats sirenkit writes, chosen by the file name."""
NORMAL_SUFFIXES = (".ply", ".obj", ".glb")
"""The ones that hold vertex normals (STL keeps a normal per face, OFF none)."""
SAVE_PRECISION = 1e-6
"""Saved mesh vertices stay within this fraction of the mesh's longest side of the computed ones."""
MAX_BAD_NORMALS = 0.01
"""Point clouds may lose up to this fraction of rows to zero-length or non-finite normals; more is refused."""
MAX_COORDINATE = 1e15
"""The largest |coordinate| of a point or mesh vertex that is read: products of coordinates (areas, squared
distances, covariances) stay far inside float32 (3.4e38). Larger ones overflowed: at 1e160 the loaders' own
arithmetic made NaN (a traceback in eval-mesh, a fake divergence in fit sdf), at 1e20 trimesh warned."""
MERGE_DIGITS = 8
"""Decimal digits at which `merge_vertices` merges corners (trimesh's default, tol.merge = 1e-8); fewer for
coordinates so large that they would overflow int64 at 8 digits (above 4.6e10)."""


@dataclass
class Surface:
    """Oriented samples of a surface: points (N, 3), unit normals (N, 3); `mesh` when the input was a mesh."""

    points: np.ndarray
    normals: np.ndarray
    source: str
    kind: str  # "mesh", "point cloud", "analytic"
    mesh: Any = None
    dropped: int = 0
    """Rows dropped for unusable normals."""


def _check_file(path: Path, what: str) -> None:
    require_file(path, what)
    suffixes = POINT_SUFFIXES + MESH_SUFFIXES
    if path.suffix.lower() not in suffixes:
        raise UserError(f"{what} {path}: unknown format {path.suffix or '(no suffix)'!r}; "
                        f"expected one of {', '.join(sorted(set(suffixes)))}")


def load_surface(path: str | Path, samples: int, seed: int = 0, estimate: bool = False) -> Surface:
    """Oriented points of a point cloud (.xyz, .ply without faces) or `samples` area-uniform points of a mesh.

    Mesh samples carry their face normals. A point cloud without normals is refused unless `estimate`
    (then normals come from local PCA, see `geometry.estimate_normals`).
    """
    path = Path(path)
    _check_file(path, "shape")
    if path.suffix.lower() == ".xyz":
        points, normals = _read_xyz(path)
        return _oriented(points, normals, str(path), estimate)
    loaded = _trimesh_load(path)
    import trimesh

    if isinstance(loaded, trimesh.Trimesh) and len(loaded.faces) > 0:
        mesh = _checked_mesh(loaded, path)
        if samples < 1:
            raise UserError(f"--surface-samples must be ≥ 1, got {samples}")
        points, face_index = trimesh.sample.sample_surface(mesh, samples, seed=seed)
        normals = np.asarray(mesh.face_normals)[face_index]
        return Surface(np.asarray(points, np.float64), normals.astype(np.float64), str(path), "mesh", mesh)
    if path.suffix.lower() != ".ply":
        raise UserError(f"mesh {path} holds no triangles: the file is empty or damaged")
    points, normals = _ply_points(loaded, path)
    return _oriented(points, normals, str(path), estimate)


def surface_from_arrays(points: np.ndarray, normals: np.ndarray | None, source: str, estimate: bool) -> Surface:
    """Oriented points handed over in memory, checked as a point-cloud file's rows are: points (N, 3), normals
    (N, 3) or None with `estimate`."""
    if points.ndim != 2 or points.shape[1] != 3:
        raise UserError(f"{source}: points have shape {points.shape}; expected (N, 3)")
    if normals is not None and normals.shape != points.shape:
        raise UserError(f"{source}: normals have shape {normals.shape}; expected {points.shape}, one per point")
    as_float = None if normals is None else normals.astype(np.float64)
    return _oriented(points.astype(np.float64), as_float, source, estimate)


def load_mesh(path: str | Path, what: str = "mesh") -> Any:
    """A triangle mesh (trimesh.Trimesh) from .ply/.obj/.off/.stl, with clear errors for non-meshes."""
    path = Path(path)
    _check_file(path, what)
    if path.suffix.lower() == ".xyz":
        raise UserError(f"{what} {path} is a point cloud (.xyz); a triangle mesh (.ply/.obj/.off/.stl) is needed")
    import trimesh

    loaded = _trimesh_load(path)
    if not isinstance(loaded, trimesh.Trimesh) or len(loaded.faces) == 0:
        raise UserError(f"{what} {path} has no triangles (a point cloud?); a triangle mesh is needed")
    return _checked_mesh(loaded, path)


def save_mesh(path: str | Path, vertices: np.ndarray, faces: np.ndarray, normals: np.ndarray | None = None) -> None:
    """Write a triangle mesh atomically in the format its suffix names (MESH_OUT_SUFFIXES: binary PLY, OBJ,
    binary STL, OFF, GLB), with the unit vertex `normals` where the format holds them (PLY, OBJ, GLB; STL keeps
    one normal per face, OFF none). Vertices stay exact to SAVE_PRECISION of the mesh's size: trimesh writes PLY
    vertices as float32 and OBJ with 8 fixed decimals, which ruins a mesh far from the origin (a georeferenced
    scan: float32 steps are 0.5 at 5e6) or in tiny units; such meshes get float64 PLY vertices or more OBJ
    decimals, all others keep trimesh's compact files (STL, OFF and GLB store float32 or text as they come)."""
    import trimesh

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in MESH_OUT_SUFFIXES:
        raise UserError(f"mesh output {path}: use a file name ending in {', '.join(MESH_OUT_SUFFIXES)}")
    vertices = np.asarray(vertices, np.float64)
    extent = float(np.ptp(vertices, axis=0).max()) if len(vertices) else 0.0
    tolerance = SAVE_PRECISION * extent
    mesh = trimesh.Trimesh(vertices=vertices, faces=faces, process=False)
    if normals is not None:  # a property with a setter (mypy reads a method); trimesh's exporters write it
        mesh.vertex_normals = np.asarray(normals, np.float64)  # type: ignore[method-assign]
    data: bytes | str | dict[Any, Any]
    if suffix == ".ply" and tolerance > 0 and np.abs(vertices.astype(np.float32) - vertices).max() > tolerance:
        data = _ply_float64(vertices, np.asarray(faces), normals)
    elif suffix == ".obj":
        digits = min(17, int(np.ceil(-np.log10(tolerance)))) if 0 < tolerance < 1e-8 else 8
        data = mesh.export(file_type="obj", digits=digits, include_normals=normals is not None,
                           include_texture=False)
    elif suffix == ".glb":
        data = mesh.export(file_type="glb", include_normals=normals is not None)
    else:
        data = mesh.export(file_type=suffix[1:])
    assert not isinstance(data, dict)  # these formats export as bytes or str
    with atomic_path(path) as tmp:
        tmp.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))


def _ply_float64(vertices: np.ndarray, faces: np.ndarray, normals: np.ndarray | None = None) -> bytes:
    """Binary little-endian PLY with double-precision vertices and, if given, float32 vertex normals (trimesh's
    exporter writes float32 vertices only)."""
    fields = [("x", "<f8"), ("y", "<f8"), ("z", "<f8")]
    if normals is not None:
        fields += [("nx", "<f4"), ("ny", "<f4"), ("nz", "<f4")]
    kinds = {"<f8": "double", "<f4": "float"}
    header = (f"ply\nformat binary_little_endian 1.0\nelement vertex {len(vertices)}\n"
              + "".join(f"property {kinds[kind]} {name}\n" for name, kind in fields)
              + f"element face {len(faces)}\nproperty list uchar int vertex_indices\nend_header\n")
    table = np.zeros(len(vertices), dtype=fields)
    for axis, name in enumerate("xyz"):
        table[name] = vertices[:, axis]
        if normals is not None:
            table[f"n{name}"] = normals[:, axis]
    rows = np.zeros(len(faces), dtype=[("count", "u1"), ("index", "<i4", (3,))])
    rows["count"], rows["index"] = 3, faces
    return header.encode("ascii") + table.tobytes() + rows.tobytes()


def _read_xyz(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # numpy warns on a file without rows; we say so ourselves below
            data = np.loadtxt(path, dtype=np.float64, ndmin=2, comments="#")
    except (ValueError, UnicodeDecodeError) as exc:
        first = (str(exc).splitlines() or ["?"])[0][:120]
        raise UserError(f"point cloud {path}: not a table of numbers ({first}); "
                        "expected rows 'x y z nx ny nz'") from None
    if data.size == 0:
        raise UserError(f"point cloud {path} holds no points")
    if data.shape[1] not in (3, 6):
        raise UserError(f"point cloud {path}: rows have {data.shape[1]} numbers; expected 6 ('x y z nx ny nz') "
                        "or 3 ('x y z', with --estimate-normals)")
    return data[:, :3], (data[:, 3:6] if data.shape[1] == 6 else None)


def _trimesh_load(path: Path) -> Any:
    import trimesh

    kind = path.suffix.lower()[1:].upper()
    try:
        return trimesh.load(str(path), force=None, process=False)
    except ImportError:  # trimesh falls back to optional text decoders on binary garbage
        raise UserError(f"could not read {path}: not a valid {kind} file") from None
    except Exception as exc:  # trimesh raises many types for corrupt files
        first = (str(exc).splitlines() or [type(exc).__name__])[0][:160]
        raise UserError(f"could not read {path}: {first} (not a valid {kind} file?)") from None


def _checked_mesh(mesh: Any, path: Path) -> Any:
    vertices = np.asarray(mesh.vertices)
    faces = np.asarray(mesh.faces)
    # trimesh's PLY reader does not check this (process=False)
    if faces.size and (faces.min() < 0 or faces.max() >= len(vertices)):
        raise UserError(f"mesh {path} has faces that refer to missing vertices (index out of range)")
    if not np.isfinite(vertices).all():
        raise UserError(f"mesh {path} has NaN or infinite vertex coordinates")
    largest = _check_coordinates(vertices, f"mesh {path}")  # unused vertices too: merge_vertices reads them all
    if float(mesh.area) <= 0.0:
        raise UserError(f"mesh {path} has zero surface area (degenerate triangles only)")
    # STL and some OBJ files store every triangle's corners separately; trimesh merges them as integers of
    # coordinate × 10^digits, which must fit in int64
    digits = MERGE_DIGITS if largest < 2.0**62 / 10**MERGE_DIGITS else int(np.floor(np.log10(2.0**62 / largest)))
    mesh.merge_vertices(digits_vertex=digits)
    return mesh


def _check_coordinates(points: np.ndarray, what: str) -> float:
    """The largest |coordinate| of finite `points`; refused above MAX_COORDINATE."""
    largest = float(np.abs(points).max()) if points.size else 0.0
    if largest > MAX_COORDINATE:
        raise UserError(f"{what} has a coordinate of {largest:.3g}; coordinates must lie within ±{MAX_COORDINATE:.0e}"
                        " (in the file's units): scale the shape down")
    return largest


def _ply_points(loaded: Any, path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    points = np.asarray(getattr(loaded, "vertices", np.empty((0, 3))), dtype=np.float64)
    if points.ndim != 2 or points.shape[0] == 0:
        raise UserError(f"point cloud {path} holds no points")
    raw = (getattr(loaded, "metadata", {}) or {}).get("_ply_raw", {})
    columns = raw.get("vertex", {}).get("data", {}) if isinstance(raw, dict) else {}
    if isinstance(columns, np.ndarray) and columns.dtype.names:
        # trimesh keeps ASCII PLY columns as a dict but binary PLY vertices as one structured array
        columns = {name: columns[name] for name in columns.dtype.names}
    if isinstance(columns, dict) and all(k in columns for k in ("nx", "ny", "nz")):
        normals = np.stack([np.asarray(columns[k], np.float64).reshape(-1) for k in ("nx", "ny", "nz")], axis=1)
        if normals.shape[0] == points.shape[0]:
            return points, normals
    return points, None


def _oriented(points: np.ndarray, normals: np.ndarray | None, source: str, estimate: bool) -> Surface:
    if not np.isfinite(points).all():
        bad = int((~np.isfinite(points).all(axis=1)).sum())
        raise UserError(f"point cloud {source}: {bad} point(s) have NaN or infinite coordinates; remove them")
    _check_coordinates(points, f"point cloud {source}")
    if points.shape[0] < 16:
        raise UserError(f"point cloud {source} has {points.shape[0]} point(s); at least 16 are needed")
    if estimate:
        from ..geometry.pointcloud import estimate_normals

        _require_distinct(points, source)
        return Surface(points, estimate_normals(points), source, "point cloud")
    if normals is None:
        raise UserError(f"point cloud {source} has no normals (nx ny nz); "
                        "pass --estimate-normals to estimate them from neighbouring points")
    length = np.linalg.norm(normals, axis=1)
    good = np.isfinite(length) & (length > 1e-8)
    dropped = int((~good).sum())
    if dropped > MAX_BAD_NORMALS * len(points):
        raise UserError(f"point cloud {source}: {dropped} of {len(points)} normals are zero-length or not finite; "
                        "fix the file or pass --estimate-normals")
    _require_distinct(points[good], source)
    return Surface(points[good], normals[good] / length[good, None], source, "point cloud", dropped=dropped)


def _require_distinct(points: np.ndarray, source: str) -> None:
    """Refuse a cloud of fewer than 16 different points: repeated rows add no shape (one point copied 20×)."""
    distinct = len(np.unique(points, axis=0))
    if distinct < 16:
        raise UserError(f"point cloud {source} has {distinct} distinct point(s); at least 16 are needed")
