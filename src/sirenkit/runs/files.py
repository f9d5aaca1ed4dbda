"""The names of a run folder's files and the sections of its config.json: the run-folder format's vocabulary,
shared by every module that reads or writes a run (a leaf: it imports nothing of sirenkit)."""

from __future__ import annotations

MARKER = "run.json"
"""What makes a folder a sirenkit run: its id, state and every file sirenkit wrote there (runs.folder)."""
LOCK = ".sirenkit.lock"
CONFIG = "config.json"
METRICS = "metrics.json"
"""Written last: a folder with metrics.json holds a finished run."""
CURVE = "curve.csv"
CHECKPOINT = "checkpoint.safetensors"
CHECKPOINT_JSON = "checkpoint.json"
"""The checkpoint's metadata, also in the safetensors header, written beside it for people to read."""
FORMAT = "sirenkit-run-1"
FIT = "fit"
"""What the marker records for a file the fit itself wrote (other commands record their own name)."""

LEGACY_FILES = (CONFIG, METRICS, CURVE, CHECKPOINT, CHECKPOINT_JSON)
"""The files of a run written before run folders had a marker; they count as the fit's own."""

SECTIONS = ("task", "model", "train")
"""The config sections of config.json; the rest of its keys describe the run (CONFIG_KEYS)."""
RECIPES = ("auto", "paper", "gpu", "cpu")
CONFIG_KEYS = ("sirenkit", "command", "task_name", "recipe", "device", "cwd", "inputs", *SECTIONS)

CUSTOM_KIND = "custom"
"""The `kind` of a checkpoint's model spec when the network was the user's own (`fit(…, model=…)`): `load_run`
cannot rebuild it, the user's code can."""
