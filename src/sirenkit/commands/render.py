"""`sirenkit render`: sample a finished run's network at any resolution (`rendering.render_run`)."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import REQUIRED, chunk_option, device_option, option, overwrite_option
from ..rendering import render_run
from .registry import Command, register


@dataclass(frozen=True)
class RenderConfig:
    """The run to render and the size of the picture (or video, or slices)."""

    run_dir: str = option(REQUIRED, "folder of a finished run", positional=True, metavar="RUN_DIR")
    size: int | None = option(None, "longer side in pixels", default_help="the fitted size")
    frames: int | None = option(None, "video runs: number of frames", default_help="as fitted")
    out: str | None = option(None, "output file", default_help="RUN_DIR/render-SIZE.png")
    chunk: int = chunk_option()
    device: str = device_option()
    overwrite: bool = overwrite_option("--out")


def run(c: RenderConfig) -> int:
    print(render_run(c.run_dir, c.size, c.out, c.chunk, c.device, c.frames, c.overwrite))
    return 0


register(Command(("render",), "sample a finished run's network at any resolution", RenderConfig, run,
                 description="Sample a finished run's network at any resolution, chunked.",
                 memory_flags="--size, --frames or --chunk"))
