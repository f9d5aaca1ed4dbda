"""What the inputs and outputs of a run's network mean, per task, as plain JSON for the ONNX sidecar.

The statements follow the tasks' own code (`sirenkit.grids.grid_coords`, the tasks' `render` and `export`),
so that a program outside sirenkit can sample an exported network exactly as sirenkit does.
"""

from __future__ import annotations

from typing import Any

_IMAGE_GRID = (
    "for an H×W image let L = max(H, W) and s = 2/(L − 1): pixel row i ↦ (i − (H − 1)/2)·s, column j ↦ "
    "(j − (W − 1)/2)·s. The longer side spans exactly [−1, 1]; the shorter one is centred with the same "
    "spacing. Sample the same formula with another H′×W′ (same aspect ratio) to render at another size."
)
_SIGNED_PIXELS = ("one output per channel (1: grey, 3: RGB); a value v in [−1, 1] is the pixel "
                  "clip((v + 1)/2, 0, 1) in [0, 1], times 2^bit_depth − 1 for integer pixels")


def _extent(n: int, longest: int) -> float:
    """Largest |coordinate| along an axis of n samples when the longest axis has `longest` samples."""
    return 1.0 if longest < 2 else (n - 1) / (longest - 1)


def _image(signal: dict[str, Any], outputs: str) -> dict[str, Any]:
    out: dict[str, Any] = {"inputs": ["row", "col"], "grid": _IMAGE_GRID, "outputs": outputs}
    h, w = signal.get("height"), signal.get("width")
    if isinstance(h, int) and isinstance(w, int):
        longest = max(h, w)
        out["range"] = {"row": [-_extent(h, longest), _extent(h, longest)],
                        "col": [-_extent(w, longest), _extent(w, longest)]}
    return out


def _frames_axis(what: str, count_key: str) -> str:
    return f"{what} k of the {count_key} fitted ↦ −1 + 2k/({count_key} − 1) (a single one sits at 0)"


def coordinate_convention(task: str, signal: dict[str, Any]) -> dict[str, Any]:
    """Inputs (names, range, grid) and the meaning of the outputs of a `task` network fitted to `signal`."""
    if task == "image":
        return _image(signal, _SIGNED_PIXELS)
    if task in ("poisson-gradient", "poisson-laplacian"):
        known = "a constant per channel" if task == "poisson-gradient" else "a harmonic function per channel"
        return _image(signal, _SIGNED_PIXELS + f". Derivatives determine the image only up to {known}: "
                              "sirenkit aligns the output to the ground truth by least squares before measuring "
                              "PSNR (see sirenkit/tasks/poisson.py); that alignment is not part of the network")
    if task == "poisson-blend":
        return _image(signal, "one output per channel: the edited image's pixel value in [0, 1] directly "
                              "(clip to [0, 1]); in mix mode the result is defined up to a constant, which "
                              "sirenkit sets so that the mean matches the mixed images' mean")
    if task == "audio":
        return {"inputs": ["t"], "range": {"t": [-1.0, 1.0]},
                "grid": "sample k of the fitted clip of `frames` samples at `rate` Hz ↦ t = −1 + 2k/(frames − 1); "
                        "other rates sample t at seconds·rate·2/(frames − 1) − 1",
                "outputs": "one output per channel; amplitude = output × signal.scale (the clip's peak)"}
    if task == "video":
        return {"inputs": ["t", "row", "col"],
                "grid": _frames_axis("frame", "frames") + "; (row, col) of each frame as for images: "
                        + _IMAGE_GRID,
                "outputs": "RGB; a value v in [−1, 1] is the colour clip((v + 1)/2, 0, 1) in [0, 1]"}
    if task == "sdf":
        return {"inputs": ["x", "y", "z"], "range": {"x": [-1.0, 1.0], "y": [-1.0, 1.0], "z": [-1.0, 1.0]},
                "grid": "normalised units: x_unit = (x − signal.normalisation.center) × signal.normalisation.scale",
                "outputs": "signed distance in normalised units (divide by signal.normalisation.scale for the "
                           "input's units); negative inside, positive outside, the surface is the zero level set"}
    if task == "helmholtz":
        return {"inputs": ["x", "y"], "range": {"x": [-1.0, 1.0], "y": [-1.0, 1.0]},
                "grid": "the square domain, including the perfectly matched layer of width signal.pml_width "
                        "at its border",
                "outputs": "real and imaginary part of the wavefield u"}
    if task == "wave":
        return {"inputs": ["tau", "x", "y"], "range": {"tau": [-1.0, 1.0], "x": [-1.0, 1.0], "y": [-1.0, 1.0]},
                "grid": "τ = 2t/T − 1 for physical time t ∈ [0, T], T = signal.t_end",
                "outputs": "displacement u"}
    if task == "fwi":
        return {"inputs": ["x", "y"], "range": {"x": [-1.0, 1.0], "y": [-1.0, 1.0]},
                "grid": "the square domain, including the perfectly matched layer of width signal.pml_width",
                "outputs": "outputs 2j and 2j + 1: real and imaginary part of source j's wavefield; the last "
                           "output y gives the squared slowness: with r = signal.slowness_scale · y, m = "
                           "exp(lo + (hi − lo)·sigmoid(r + shift)) for signal.velocity_range [vmin, vmax] (lo = "
                           "−2 ln vmax, hi = −2 ln vmin, shift making m = 1 at r = 0), or m = max(r, −0.999) + 1 "
                           "where velocity_range is null; this inside |x|, |y| < signal.slowness_box and farther "
                           "than signal.source_mute from every source in signal.sources, m = 1 elsewhere; "
                           "velocity = 1/√m"}
    return {"inputs": None, "outputs": None, "note": f"see the documentation of the {task!r} task in docs/"}
