"""The words every image-like task uses to say what its network's coordinates and outputs mean (for the ONNX
sidecar, `Task.coordinate_convention`). They follow `sirenkit.grids.grid_coords`, so that a program outside
sirenkit can sample an exported network exactly as sirenkit does."""

from __future__ import annotations

from typing import Any

IMAGE_GRID = (
    "for an H×W image let L = max(H, W) and s = 2/(L − 1): pixel row i ↦ (i − (H − 1)/2)·s, column j ↦ "
    "(j − (W − 1)/2)·s. The longer side spans exactly [−1, 1]; the shorter one is centred with the same "
    "spacing. Sample the same formula with another H′×W′ (same aspect ratio) to render at another size."
)
SIGNED_PIXELS = ("one output per channel (1: grey, 3: RGB); a value v in [−1, 1] is the pixel "
                  "clip((v + 1)/2, 0, 1) in [0, 1], times 2^bit_depth − 1 for integer pixels")


def _extent(n: int, longest: int) -> float:
    """Largest |coordinate| along an axis of n samples when the longest axis has `longest` samples."""
    return 1.0 if longest < 2 else (n - 1) / (longest - 1)


def image_convention(signal: dict[str, Any], outputs: str) -> dict[str, Any]:
    out: dict[str, Any] = {"inputs": ["row", "col"], "grid": IMAGE_GRID, "outputs": outputs}
    h, w = signal.get("height"), signal.get("width")
    if isinstance(h, int) and isinstance(w, int):
        longest = max(h, w)
        out["range"] = {"row": [-_extent(h, longest), _extent(h, longest)],
                        "col": [-_extent(w, longest), _extent(w, longest)]}
    return out


def frames_axis(what: str, count_key: str) -> str:
    return f"{what} k of the {count_key} fitted ↦ −1 + 2k/({count_key} − 1) (a single one sits at 0)"
