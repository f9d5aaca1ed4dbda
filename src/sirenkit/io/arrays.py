"""NumPy arrays read from .npy files a user names (a derivative field to fit): the header is checked against the
input limits before the data is read, pickled objects are refused, and every failure is one line."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import UserError
from .files import require_file
from .limits import check_image_pixels
from .memory import as_array


def load_field(path: str | Path, what: str) -> np.ndarray:
    """The array in the .npy file `path` (its first two axes an image's height and width), as float64. `what`
    names it in errors: 'gradient field grad.npy'."""
    path = require_file(path, what, "a .npy file")
    try:
        mapped = np.load(path, mmap_mode="r", allow_pickle=False)  # reads the header only
    except (ValueError, OSError, EOFError) as err:
        raise UserError(f"{what} {path} is not a NumPy .npy array file ({str(err).splitlines()[0]})") from None
    if not isinstance(mapped, np.ndarray):  # an .npz archive
        raise UserError(f"{what} {path} is an .npz archive; save the one array with numpy.save")
    if mapped.ndim >= 2:  # .npy is not compressed: the file holds every byte the header declares
        check_image_pixels(mapped.shape[0], mapped.shape[1], f"{what} {path}")
    try:
        array = np.array(mapped)
    except (ValueError, OSError) as err:
        raise UserError(f"{what} {path} could not be read ({str(err).splitlines()[0]})") from None
    return as_array(array, f"{what} {path}").astype(np.float64)
