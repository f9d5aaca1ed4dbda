"""Input size limits (`sirenkit.io.limits`): a small file that declares a huge image, sound or video is refused
from its header in a moment, before anything is decoded — one line naming the file and the flag that raises the
limit, exit code 2, nothing written. Limits are exact (a file at the limit is read) and raising the flag lets a
file through.

The bombs are made here in milliseconds: a PNG whose deflate stream repeats one flushed block of zero rows, a
zlib TIFF whose tiles are one compressed zero tile written many times, and JPEG / GIF / BMP / FLAC files whose
headers declare a huge size.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import json
import struct
import sys
import threading
import time
import zlib
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import soundfile as sf

from sirenkit import cli
from sirenkit.errors import UserError
from sirenkit.io.audio import load_audio
from sirenkit.io.images import image_size, load_image
from sirenkit.io.limits import (
    DEFAULT_MAX_PIXELS,
    DEFAULT_MAX_SAMPLES,
    DEFAULT_MAX_VIDEO_PIXELS,
    LIMIT_FLAGS,
    carry_limits,
    current_limits,
    input_limits,
)
from sirenkit.io.video import load_video

from .. import badinput
from ..badinput import QUICK, TASK_QUICK, Case, Env, check_case, fit

SECONDS = 2.0  # a bomb is refused within this, making and snapshotting it included


# ------------------------------------------------------------------------------------------------ bombs
def png_bomb(path: Path, width: int, height: int, rows_per_block: int = 64) -> Path:
    """A valid 8-bit grey PNG of zeros: the IDAT stream repeats one fully flushed deflate block of zero rows."""
    row = b"\0" * (width + 1)  # filter byte + pixels
    c = zlib.compressobj(9)
    head = c.compress(row * rows_per_block) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(row * rows_per_block) + c.flush(zlib.Z_FULL_FLUSH)  # no history: repeatable
    assert head[2:] == block
    blocks, rest = divmod(height, rows_per_block)
    data = head[:2] + block * blocks
    if rest:
        raw = zlib.compressobj(9, zlib.DEFLATED, -15)
        data += raw.compress(row * rest) + raw.flush(zlib.Z_FULL_FLUSH)
    total = height * (width + 1)
    data += b"\x03\x00" + struct.pack(">I", ((total % 65521) << 16) | 1)  # last empty block, Adler-32 of zeros

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", data) + chunk(b"IEND", b""))
    return path


def tiff_bomb(path: Path, width: int, height: int, pages: int = 1, tile: int = 1024) -> Path:
    """A zlib-compressed tiled TIFF of zeros (every tile the same compressed bytes); `pages` > 1: a stack."""
    import tifffile

    encoded = zlib.compress(bytes(tile * tile), 9)
    count = pages * -(-height // tile) * -(-width // tile)
    shape = (pages, height, width) if pages > 1 else (height, width)
    tifffile.imwrite(path, data=(encoded for _ in range(count)), shape=shape, dtype=np.uint8, tile=(tile, tile),
                     compression="zlib")
    return path


def _pillow_bytes(image, fmt: str, **kwargs) -> bytearray:
    buf = io.BytesIO()
    image.save(buf, fmt, **kwargs)
    return bytearray(buf.getvalue())


def jpeg_bomb(path: Path, width: int, height: int) -> Path:
    """An 8×8 JPEG whose SOF0 header says width × height."""
    from PIL import Image

    data = _pillow_bytes(Image.new("RGB", (8, 8)), "JPEG")
    at = data.find(b"\xff\xc0")
    data[at + 5 : at + 9] = struct.pack(">HH", height, width)
    path.write_bytes(bytes(data))
    return path


def gif_bomb(path: Path, width: int, height: int, frames: int = 1) -> Path:
    """A GIF of `frames` 8×8 frames on a logical screen of width × height (each frame decodes to the screen)."""
    from PIL import Image

    images = [Image.new("P", (8, 8), color=i % 2) for i in range(frames)]
    data = _pillow_bytes(images[0], "GIF", save_all=True, append_images=images[1:], duration=10, loop=0,
                         optimize=False)
    data[6:10] = struct.pack("<HH", width, height)
    path.write_bytes(bytes(data))
    return path


def bmp_bomb(path: Path, width: int, height: int) -> Path:
    """An 8×8 BMP whose header says width × height."""
    from PIL import Image

    data = _pillow_bytes(Image.new("RGB", (8, 8)), "BMP")
    data[18:26] = struct.pack("<ii", width, height)
    path.write_bytes(bytes(data))
    return path


def flac_declaring(path: Path, frames: int, channels: int = 2) -> Path:
    """A short FLAC whose STREAMINFO says it holds `frames` frames (0: length not stated)."""
    sf.write(str(path), np.zeros((4096, channels), np.float32), 8000)
    data = bytearray(path.read_bytes())
    info = 8  # after "fLaC" and the metadata block header
    data[info + 13] = (data[info + 13] & 0xF0) | ((frames >> 32) & 0x0F)
    data[info + 14 : info + 18] = (frames & 0xFFFFFFFF).to_bytes(4, "big")
    path.write_bytes(bytes(data))
    return path


def raw_h264(path: Path, frames: int = 5, side: int = 16) -> Path:
    """A raw H.264 stream (no container: no duration, so no frame count before decoding)."""
    import imageio_ffmpeg

    writer = imageio_ffmpeg.write_frames(str(path), (side, side), fps=25, codec="libx264", macro_block_size=1,
                                         output_params=["-f", "h264"], ffmpeg_log_level="error")
    writer.send(None)
    rng = np.random.default_rng(0)
    for _ in range(frames):
        writer.send(rng.integers(0, 255, (side, side, 3), dtype=np.uint8))
    writer.close()
    return path


def frames_folder(folder: Path, count: int = 5, side: int = 16, bomb_at: int | None = None) -> Path:
    folder.mkdir()
    rng = np.random.default_rng(1)
    for i in range(count):
        if i == bomb_at:
            png_bomb(folder / f"f{i}.png", 33000, 33000)
        else:
            iio.imwrite(folder / f"f{i}.png", rng.integers(0, 255, (side, side, 3), dtype=np.uint8))
    return folder


def image_folder(folder: Path, bomb: str = "c.png") -> Path:
    """Two small photos and a 33000×33000 PNG bomb named `bomb` (a path inside `folder`)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(2)
    for name in ("a.png", "b.png"):
        iio.imwrite(folder / name, rng.integers(0, 255, (16, 16, 3), dtype=np.uint8))
    (folder / bomb).parent.mkdir(parents=True, exist_ok=True)
    png_bomb(folder / bomb, 33000, 33000)
    return folder


def small(path: Path, width: int = 16, height: int = 12, **kwargs) -> Path:
    """A real width × height RGB image in the format of `path`'s suffix."""
    rng = np.random.default_rng(3)
    iio.imwrite(path, rng.integers(0, 255, (height, width, 3), dtype=np.uint8), **kwargs)
    return path


# ------------------------------------------------------------------------------------------------ the CLI's limits
# Until `sirenkit.cli` enters `input_limits` itself (the CLI dispatch), enter it here around `main` the way the CLI
# will, so that the flags act; once the CLI does it, this does nothing and the tests check the real wiring.
WIRED = "input_limits(" in inspect.getsource(cli)


@pytest.fixture(autouse=True)
def limits_from_flags(monkeypatch):
    if WIRED:
        return
    real = badinput.main

    def main(argv):
        try:
            with contextlib.redirect_stderr(io.StringIO()):
                args = cli.build_parser().parse_args(argv)
        except SystemExit:
            return real(argv)  # the parser's own error line
        try:
            with input_limits(**{k: getattr(args, k) for k in LIMIT_FLAGS if hasattr(args, k)}):
                return real(argv)
        except UserError as exc:
            print(f"sirenkit: error: {exc}", file=sys.stderr)
            return exc.exit_code

    monkeypatch.setattr(badinput, "main", main)


def _fit_with(task: str, make, name: str, *args: str):
    """`fit TASK FILE ARGS…` where FILE is made by `make(env.tmp / name)` (inside the case's snapshot)."""
    def argv(env: Env) -> list[str]:
        path = make(env.tmp / name)
        return fit(task, str(path), *args)(env)

    return argv


def _images_fit(make):
    def argv(env: Env) -> list[str]:
        folder = make(env.tmp / "photos")
        return ["fit", "images", str(folder), "--out", str(env.out), "--size", "16", *QUICK]

    return argv


def _compress_bomb(env: Env) -> list[str]:
    """A copy of the image run whose config.json names a PNG bomb as the fitted image."""
    run = env.run_copy()
    config_path = run / "config.json"
    config = json.loads(config_path.read_text())
    config["task"]["path"] = str(png_bomb(env.tmp / "bomb.png", 33000, 33000))
    config_path.write_text(json.dumps(config))
    return ["compress", str(run), "--out", str(env.tmp / "c.safetensors")]


def _meta(verb: str, make, *args: str):
    def argv(env: Env) -> list[str]:
        target = make(env)
        if verb == "inpaint":
            return ["meta", "inpaint", str(env.meta_run), str(target), "--out", str(env.tmp / "x.png"),
                    "--device", "cpu", *args]
        return ["meta", "eval", str(env.meta_run), "--data", str(target), "--device", "cpu", *args]

    return argv


def _celeba_bomb(folder: Path) -> Path:
    (folder / "img_align_celeba").mkdir(parents=True)
    rng = np.random.default_rng(4)
    for name in ("000001.jpg", "000002.jpg"):
        iio.imwrite(folder / "img_align_celeba" / name, rng.integers(0, 255, (16, 16, 3), dtype=np.uint8))
    jpeg_bomb(folder / "img_align_celeba" / "000003.jpg", 60000, 60000)
    (folder / "list_eval_partition.txt").write_text("000001.jpg 0\n000002.jpg 2\n000003.jpg 0\n")
    return folder


def tetrahedron(path: Path, scale: float) -> Path:
    """A tetrahedron with corners at 0 and `scale` on each axis, as OBJ, PLY or STL (by suffix)."""
    import trimesh

    vertices = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], np.float64) * scale
    faces = [[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]]
    if path.suffix == ".obj":  # written by hand: every digit of the coordinates
        path.write_text("".join(f"v {x!r} {y!r} {z!r}\n" for x, y, z in vertices.tolist())
                        + "".join(f"f {a + 1} {b + 1} {c + 1}\n" for a, b, c in faces))
    else:
        trimesh.Trimesh(vertices, faces, process=False).export(path)
    return path


def sphere_cloud(path: Path, scale: float, normals: bool = True) -> Path:
    """200 points of a sphere of radius `scale` (and their normals), as .xyz or .ply."""
    import trimesh

    rng = np.random.default_rng(9)
    unit = rng.normal(size=(200, 3))
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    if path.suffix == ".xyz":
        np.savetxt(path, np.hstack([unit * scale, unit]) if normals else unit * scale, fmt="%.17g")
    else:
        trimesh.points.PointCloud(unit * scale).export(path)
    return path


PNG_BOMB = lambda p: png_bomb(p, 33000, 33000)  # noqa: E731  (1.09e9 pixels, over the default 2**28)

CASES = [
    # ---- images: every format, at the default limit (2**28 pixels) unless the probe's own size is named
    Case("bomb-png", "a 1 MB PNG of zeros, 33000×33000 (1.1e9 pixels)", _fit_with("image", PNG_BOMB, "bomb.png"),
         ("image {tmp}/bomb.png is 33000×33000 pixels (1.1e9), more than --max-pixels 268435456",
          "pass a larger --max-pixels")),
    Case("bomb-png-probe", "the probe's 140 KB PNG, 12000×12000, with `--max-pixels 100000000`",
         _fit_with("image", lambda p: png_bomb(p, 12000, 12000), "probe.png", "--max-pixels", "100000000"),
         ("probe.png is 12000×12000 pixels (1.4e8), more than --max-pixels 100000000",)),
    Case("bomb-png-inside", "a 64 KB PNG declaring 2×2 whose IDAT inflates to 64 MB of zeros",
         _fit_with("image", lambda p: png_stream(p, ZEROS_64_MB, 2, 2), "inside.png"),
         ("image {tmp}/inside.png holds more pixel data than its header declares (2×2); it is damaged or a "
          "decompression bomb",)),
    Case("bomb-tiff-inside", "a 64 KB zlib TIFF declaring 2×2 whose strip inflates to 64 MB of zeros",
         _fit_with("image", lambda p: tiff_stream(p, zlib.compress(ZEROS_64_MB, 9), 2, 2), "inside.tif"),
         ("image {tmp}/inside.tif holds more pixel data than its header declares (2×2); it is damaged or a "
          "decompression bomb",)),
    Case("bomb-tiff", "a 1.7 MB zlib TIFF of zeros, 40000×40000", _fit_with(
        "image", lambda p: tiff_bomb(p, 40000, 40000), "bomb.tif"),
         ("image {tmp}/bomb.tif is 40000×40000 pixels (1.6e9), more than --max-pixels",)),
    Case("bomb-tiff-probe", "the probe's zlib TIFF, 20000×20000 (at the default limit)",
         _fit_with("image", lambda p: tiff_bomb(p, 20000, 20000), "probe.tif"),
         ("probe.tif is 20000×20000 pixels (4.0e8), more than --max-pixels 268435456",)),
    Case("bomb-tiff-pages", "a TIFF stack of 1100 pages of 1000×1000 (all pages are decoded)",
         _fit_with("image", lambda p: tiff_bomb(p, 1000, 1000, pages=1100, tile=512), "pages.tif"),
         ("pages.tif holds 1100 frames of 1000×1000 pixels (1.1e9), more than --max-pixels",)),
    Case("bomb-jpeg", "a JPEG header claiming 60000×60000", _fit_with(
        "image", lambda p: jpeg_bomb(p, 60000, 60000), "bomb.jpg"),
         ("bomb.jpg is 60000×60000 pixels (3.6e9), more than --max-pixels",)),
    Case("bomb-gif", "a GIF whose logical screen is 65535×65535", _fit_with(
        "image", lambda p: gif_bomb(p, 65535, 65535), "bomb.gif"),
         ("bomb.gif is 65535×65535 pixels (4.3e9), more than --max-pixels",)),
    Case("bomb-gif-frames", "a 40 KB GIF of 1100 tiny frames on a 1000×1000 screen",
         _fit_with("image", lambda p: gif_bomb(p, 1000, 1000, frames=1100), "anim.gif"),
         ("anim.gif holds 1100 frames of 1000×1000 pixels (1.1e9), more than --max-pixels",)),
    Case("bomb-bmp", "a BMP header claiming 40000×40000", _fit_with(
        "image", lambda p: bmp_bomb(p, 40000, 40000), "bomb.bmp"),
         ("bomb.bmp is 40000×40000 pixels (1.6e9), more than --max-pixels",)),
    Case("over-limit-webp", "a 16×12 WebP with `--max-pixels 191`",
         _fit_with("image", lambda p: small(p, lossless=True), "small.webp", "--max-pixels", "191"),
         ("small.webp is 16×12 pixels (192), more than --max-pixels 191",)),
    # ---- the other readers of images
    Case("bomb-poisson", "`poisson gradient BOMB.png`", _fit_with("gradient", PNG_BOMB, "bomb.png"),
         ("bomb.png is 33000×33000 pixels", "--max-pixels")),
    Case("bomb-blend-insert", "`poisson blend base.png BOMB.png`",
         lambda env: fit("blend", "{d}/base.png", str(PNG_BOMB(env.tmp / "bomb.png")))(env),
         ("bomb.png is 33000×33000 pixels", "--max-pixels")),
    Case("bomb-blend-mask", "`poisson blend base.png insert.png --mode clone --mask BOMB.png`",
         lambda env: fit("blend", "{d}/base.png", "{d}/insert.png", "--mode", "clone", "--mask",
                         str(PNG_BOMB(env.tmp / "bomb.png")))(env),
         ("bomb.png is 33000×33000 pixels", "--max-pixels")),
    Case("bomb-fit-images", "`fit images FOLDER` with a PNG bomb among its images", _images_fit(image_folder),
         ("photos/c.png is 33000×33000 pixels", "--max-pixels")),
    Case("bomb-meta-train", "`meta train FOLDER` with a PNG bomb among its images",
         lambda env: fit("meta", str(image_folder(env.tmp / "photos")))(env),
         ("photos/c.png is 33000×33000 pixels", "--max-pixels")),
    Case("bomb-meta-train-split", "`meta train FOLDER` with train/ and test/, a bomb in test/",
         lambda env: fit("meta", str(_split_folder(env.tmp / "photos")))(env),
         ("test/t.png is 33000×33000 pixels", "--max-pixels")),
    Case("bomb-meta-celeba", "`meta train CELEBA` with a forged 60000×60000 JPEG",
         lambda env: fit("meta", str(_celeba_bomb(env.tmp / "celeba")))(env),
         ("000003.jpg is 60000×60000 pixels", "--max-pixels")),
    Case("bomb-meta-inpaint", "`meta inpaint RUN BOMB.png`", _meta("inpaint", lambda env: PNG_BOMB(env.tmp / "b.png")),
         ("b.png is 33000×33000 pixels", "--max-pixels")),
    Case("over-limit-meta-inpaint", "`meta inpaint RUN base.png --max-pixels 255` (16×16)",
         _meta("inpaint", lambda env: env.data / "base.png", "--max-pixels", "255"),
         ("base.png is 16×16 pixels (256), more than --max-pixels 255",)),
    Case("bomb-meta-eval", "`meta eval RUN --data FOLDER` with a PNG bomb",
         _meta("eval", lambda env: image_folder(env.tmp / "photos")), ("photos/c.png is 33000×33000", "--max-pixels")),
    Case("over-limit-meta-eval", "`meta eval RUN --data FOLDER --max-pixels 255` (16×16 images)",
         _meta("eval", lambda env: _split_folder(env.tmp / "photos", bomb=False), "--max-pixels", "255"),
         ("is 16×16 pixels (256), more than --max-pixels 255",)),
    Case("bomb-compress", "`compress RUN` whose config.json names a PNG bomb", _compress_bomb,
         ("cannot rebuild the image", "bomb.png is 33000×33000 pixels", "--max-pixels")),
    # ---- shapes whose coordinates overflow (float64 at 1e160, trimesh's int64 vertex merge at 1e20)
    Case("mesh-coordinates-1e160", "`fit sdf` of a tetrahedron with vertices at 1e160 (was a fake divergence)",
         _fit_with("sdf", lambda p: tetrahedron(p, 1e160), "huge.obj"),
         "mesh {tmp}/huge.obj has a coordinate of 1e+160; coordinates must lie within ±1e+15 (in the file's units): "
         "scale the shape down"),
    Case("mesh-coordinates-1e160-eval", "`eval-mesh huge.obj sphere.ply` (was an IndexError)",
         lambda env: ["eval-mesh", str(tetrahedron(env.tmp / "huge.obj", 1e160)), env.d("sphere.ply"),
                      "--samples", "100"], "mesh {tmp}/huge.obj has a coordinate of 1e+160"),
    Case("mesh-coordinates-1e20", "`fit sdf` of a tetrahedron at 1e20 (was a trimesh RuntimeWarning)",
         _fit_with("sdf", lambda p: tetrahedron(p, 1e20), "e20.obj"), "e20.obj has a coordinate of 1e+20"),
    Case("mesh-coordinates-reference", "`fit sdf good.xyz --reference huge.stl`",
         lambda env: fit("sdf", "{d}/good.xyz", "--reference", str(tetrahedron(env.tmp / "huge.stl", -3e16)))(env),
         "mesh {tmp}/huge.stl has a coordinate of 3e+16"),
    Case("points-coordinates-xyz", "`fit sdf` of an .xyz cloud at 1e20",
         _fit_with("sdf", lambda p: sphere_cloud(p, 1e20), "far.xyz"),
         "point cloud {tmp}/far.xyz has a coordinate of 1e+20; coordinates must lie within ±1e+15"),
    Case("points-coordinates-ply", "`fit sdf --estimate-normals` of a .ply cloud at 2e15",
         _fit_with("sdf", lambda p: sphere_cloud(p, 2e15), "far.ply", "--estimate-normals"),
         "point cloud {tmp}/far.ply has a coordinate of 2e+15"),
    # ---- audio
    Case("bomb-flac", "a 4096-frame FLAC whose header declares 2**35 − 1 frames × 2 channels",
         _fit_with("audio", lambda p: flac_declaring(p, 2**35 - 1), "bomb.flac"),
         ("audio {tmp}/bomb.flac would decode 34359738367 frames × 2 channel(s) (6.9e10), more than --max-samples "
          "1073741824", "--start/--duration")),
    Case("over-limit-wav", "a 400-frame mono WAV with `--max-samples 399`",
         fit("audio", "{d}/tone.wav", "--max-samples", "399"),
         ("tone.wav would decode 400 frames × 1 channel(s) (400), more than --max-samples 399",)),
    Case("over-limit-flac-window", "a 4096-frame stereo FLAC, `--duration 0.5 --max-samples 7999` (4000 × 2)",
         _fit_with("audio", lambda p: flac_declaring(p, 4096), "s.flac", "--duration", "0.5", "--max-samples",
                   "7999"), ("s.flac would decode 4000 frames × 2 channel(s) (8000), more than --max-samples 7999",)),
    Case("unstated-flac", "a FLAC whose header does not state its length",
         _fit_with("audio", lambda p: flac_declaring(p, 0), "stream.flac"),
         ("stream.flac does not state its length",)),
    # ---- video
    Case("over-limit-video", "a 5-frame 16×16 MP4 with `--max-video-pixels 1279`",
         fit("video", "{d}/clip.mp4", "--max-video-pixels", "1279"),
         ("video {d}/clip.mp4 would decode about 5 frames of 16×16 pixels (1280), more than --max-video-pixels 1279",
          "--frames")),
    Case("over-limit-video-frames", "`--frames 3 --max-video-pixels 767` on the 5-frame clip",
         fit("video", "{d}/clip.mp4", "--frames", "3", "--max-video-pixels", "767"),
         ("would decode 3 frames of 16×16 pixels (768), more than --max-video-pixels 767",)),
    Case("over-limit-video-frame-size", "video frames of 16×16 with `--max-pixels 255`",
         fit("video", "{d}/clip.mp4", "--max-pixels", "255"),
         ("frames of video {d}/clip.mp4 are 16×16 pixels (256), more than --max-pixels 255",)),
    Case("over-limit-video-no-duration", "a raw H.264 stream (no duration in its header), `--max-video-pixels 1000`",
         _fit_with("video", raw_h264, "raw.h264", "--max-video-pixels", "1000"),
         ("raw.h264 would decode 4 frames of 16×16 pixels (1024), more than --max-video-pixels 1000",)),
    Case("over-limit-video-folder", "a folder of five 16×16 frames with `--max-video-pixels 1279`",
         _fit_with("video", frames_folder, "frames", "--max-video-pixels", "1279"),
         ("folder {tmp}/frames would decode 5 frames of 16×16 pixels (1280), more than --max-video-pixels 1279",)),
    Case("bomb-video-folder-frame", "a folder of frames whose third frame is a 33000×33000 PNG bomb",
         _fit_with("video", lambda p: frames_folder(p, bomb_at=2), "frames"),
         ("frames/f2.png is 33000×33000 pixels", "--max-pixels")),
    # ---- the flags' values
    Case("max-pixels-0", "`--max-pixels 0`", fit("image", "--max-pixels", "0"),
         "--max-pixels must be a positive integer, got 0"),
    Case("max-pixels-negative", "`--max-pixels -5`", fit("image", "--max-pixels", "-5"),
         "--max-pixels must be a positive integer, got -5"),
    Case("max-pixels-words", "`--max-pixels lots`", fit("image", "--max-pixels", "lots"),
         "argument --max-pixels: expected an integer, got 'lots'"),
    Case("max-samples-0", "`fit audio --max-samples 0`", fit("audio", "{d}/tone.wav", "--max-samples", "0"),
         "--max-samples must be a positive integer, got 0"),
    Case("max-video-pixels-0", "`fit video --max-video-pixels 0`",
         fit("video", "{d}/clip.mp4", "--max-video-pixels", "0"), "--max-video-pixels must be a positive integer"),
    Case("max-pixels-0-inpaint", "`meta inpaint RUN base.png --max-pixels 0`",
         _meta("inpaint", lambda env: env.data / "base.png", "--max-pixels", "0"),
         "--max-pixels must be a positive integer, got 0"),
    Case("max-pixels-0-compress", "`compress RUN --max-pixels 0`",
         lambda env: ["compress", str(env.image_run), "--out", str(env.tmp / "c.safetensors"), "--max-pixels", "0"],
         "--max-pixels must be a positive integer, got 0"),
]


def _split_folder(folder: Path, bomb: bool = True) -> Path:
    """train/ and test/ subfolders of 16×16 images; test/t.png a PNG bomb when `bomb`."""
    rng = np.random.default_rng(5)
    for sub in ("train", "test"):
        (folder / sub).mkdir(parents=True)
        iio.imwrite(folder / sub / "a.png", rng.integers(0, 255, (16, 16, 3), dtype=np.uint8))
    if bomb:
        png_bomb(folder / "test" / "t.png", 33000, 33000)
    return folder


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=c.marks) for c in CASES])
def test_case(case, data, image_run, sdf_run, meta_run, tmp_path, capsys, monkeypatch):
    started = time.perf_counter()
    check_case(case, Env(data, image_run, sdf_run, tmp_path, meta_run), capsys, monkeypatch)
    seconds = time.perf_counter() - started
    assert seconds < SECONDS, f"refused after {seconds:.2f} s"


# ------------------------------------------------------------------------------------------------ exact limits
@pytest.mark.parametrize("suffix,kwargs", [(".png", {}), (".jpg", {}), (".tif", {}), (".bmp", {}),
                                           (".webp", {"lossless": True})])
def test_image_limit_is_exact(tmp_path, suffix, kwargs):
    """A 16×12 image is read at --max-pixels 192 and refused at 191, in every format (GIF: the bomb cases)."""
    path = small(tmp_path / f"photo{suffix}", **kwargs)
    assert image_size(path) == (1, 12, 16)
    with input_limits(max_pixels=192):
        assert load_image(path).pixels.shape[:2] == (12, 16)
    with input_limits(max_pixels=191), pytest.raises(UserError, match=r"is 16×12 pixels \(192\), more than "
                                                                      r"--max-pixels 191"):
        load_image(path)


def test_frames_of_a_stack_all_count(tmp_path):
    """A 4-page TIFF stack is 4 × 8 × 8 = 256 pixels: refused at 255; at 256 the limit passes (and the usual
    'single 2-D image' refusal follows)."""
    import tifffile

    path = tmp_path / "stack.tif"
    tifffile.imwrite(path, np.zeros((4, 8, 8), np.uint8), photometric="minisblack")
    assert image_size(path) == (4, 8, 8)
    with input_limits(max_pixels=255), pytest.raises(UserError, match="holds 4 frames of 8×8 pixels"):
        load_image(path)
    with input_limits(max_pixels=256), pytest.raises(UserError) as exc:
        load_image(path)
    assert "--max-pixels" not in str(exc.value)


def test_raising_the_flag_lets_the_file_through(tmp_path, capsys):
    """`fit image` of a 64×48 PNG: refused with --max-pixels 3071, fitted with --max-pixels 3072."""
    path = small(tmp_path / "photo.png", 64, 48)
    base = ["fit", "image", str(path), *TASK_QUICK["image"], *QUICK]
    code, err = badinput.call([*base, "--out", str(tmp_path / "a"), "--max-pixels", "3071"], capsys)
    assert code == 2 and "is 64×48 pixels (3072), more than --max-pixels 3071" in err
    assert not (tmp_path / "a").exists()
    code, err = badinput.call([*base, "--out", str(tmp_path / "b"), "--max-pixels", "3072"], capsys)
    assert code == 0, err
    assert (tmp_path / "b" / "config.json").is_file()


def test_pillow_limit_does_not_override_max_pixels(tmp_path, monkeypatch):
    """Pillow's own decompression-bomb limit (a global, 1.8e8 pixels) is lifted for our reads, so that
    --max-pixels alone decides; it is put back afterwards."""
    from PIL import Image as PILImage

    monkeypatch.setattr(PILImage, "MAX_IMAGE_PIXELS", 10)  # Pillow alone would refuse the 16×12 JPEG
    path = small(tmp_path / "photo.jpg")
    assert load_image(path).pixels.shape[:2] == (12, 16)
    assert PILImage.MAX_IMAGE_PIXELS == 10
    with input_limits(max_pixels=191), pytest.raises(UserError, match="--max-pixels 191"):
        load_image(path)
    assert PILImage.MAX_IMAGE_PIXELS == 10


def test_audio_limit_counts_the_window(tmp_path):
    """--max-samples counts what is decoded: the window read, frames × channels, exactly."""
    path = tmp_path / "tone.wav"
    sf.write(str(path), np.full((8000, 2), 0.25, np.float32), 8000)
    with input_limits(max_samples=16000):
        assert load_audio(path).samples.shape == (8000, 2)
    with input_limits(max_samples=15999), pytest.raises(UserError, match=r"8000 frames × 2 channel\(s\)"):
        load_audio(path)
    with input_limits(max_samples=8000):
        assert load_audio(path, start=0.25, duration=0.5).samples.shape == (4000, 2)


def test_video_limit_counts_the_frames_read(data):
    """--max-video-pixels counts the frames decoded: all 5 of the 16×16 clip, or --start-frame + --frames."""
    clip = data / "clip.mp4"
    with input_limits(max_video_pixels=1280):
        assert load_video(clip).frames.shape == (5, 16, 16, 3)
    with input_limits(max_video_pixels=768):
        assert load_video(clip, frames=2, start=1).frames.shape == (2, 16, 16, 3)
    with input_limits(max_video_pixels=767), pytest.raises(UserError, match="would decode 3 frames"):
        load_video(clip, frames=2, start=1)
    with input_limits(max_pixels=256):
        assert load_video(clip, size=8).frames.shape == (5, 8, 8, 3)


def test_video_folder_limit_is_exact(tmp_path):
    folder = frames_folder(tmp_path / "frames")
    with input_limits(max_video_pixels=1280):
        assert load_video(folder).frames.shape == (5, 16, 16, 3)
    with input_limits(max_video_pixels=1279), pytest.raises(UserError, match="would decode 5 frames"):
        load_video(folder)
    with input_limits(max_video_pixels=512):
        assert load_video(folder, frames=2).frames.shape == (2, 16, 16, 3)


def test_meta_image_threads_see_the_limits(tmp_path):
    """`meta train` decodes its images in worker threads, which do not inherit context variables: the limits in
    force must still apply there (and the images not yet started are not decoded)."""
    from sirenkit.meta.data import load_image_set

    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(6)
    for i in range(6):
        iio.imwrite(folder / f"{i}.png", rng.integers(0, 255, (16, 16, 3), dtype=np.uint8))
    assert load_image_set(str(folder), 12).train.shape[1:] == (12, 12, 3)
    with input_limits(max_pixels=255), pytest.raises(UserError, match="is 16×16 pixels"):
        load_image_set(str(folder), 12)


# ------------------------------------------------------------------------------------------------ input_limits
def test_input_limits_context():
    assert current_limits() == {"max_pixels": DEFAULT_MAX_PIXELS, "max_samples": DEFAULT_MAX_SAMPLES,
                                "max_video_pixels": DEFAULT_MAX_VIDEO_PIXELS}
    assert LIMIT_FLAGS == ("max_pixels", "max_samples", "max_video_pixels")
    with input_limits(max_pixels=100, max_samples=None) as limits:
        assert limits["max_pixels"] == 100 and limits["max_samples"] == DEFAULT_MAX_SAMPLES
        with input_limits(max_samples=7, max_pixels=None):  # None keeps the enclosing value
            assert current_limits()["max_pixels"] == 100 and current_limits()["max_samples"] == 7
        seen = {}
        carried = carry_limits(lambda: seen.update(current_limits()))
        thread = threading.Thread(target=carried)
        thread.start()
        thread.join()
        assert seen["max_pixels"] == 100
    assert current_limits()["max_pixels"] == DEFAULT_MAX_PIXELS
    for bad in (0, -1, 1.5, True, "10", float("nan")):
        with pytest.raises(UserError, match="--max-pixels must be a positive integer"):
            with input_limits(max_pixels=bad):
                pass
    with input_limits(max_video_pixels=1e12) as limits:  # an integral float (from JSON) is an integer
        assert limits["max_video_pixels"] == 10**12
    with pytest.raises(TypeError):
        with input_limits(max_pixel=5):
            pass


def test_python_api_refuses_a_bad_limit(tmp_path):
    """`sirenkit.fit(..., max_pixels=0)` is refused before anything is written (RunOptions.validate)."""
    import sirenkit

    with pytest.raises(UserError, match="--max-pixels must be a positive integer"):
        sirenkit.fit("image", out=str(tmp_path / "run"), max_pixels=0, size=16, steps=1, hidden_features=8,
                     device="cpu", quiet=True)
    assert not (tmp_path / "run").exists()


def test_a_huge_image_is_reduced_by_block_means_first(monkeypatch):
    """A photograph far larger than --size (the probe's 12000² PNG is under the pixel limit) is reduced by block
    means before the anti-aliased resize: skimage's Gaussian at full resolution took minutes there (4 s now). The
    result stays close to the direct resize (the box is a sharper low-pass than skimage's wide Gaussian); images
    up to 2**24 pixels take the direct path and are unchanged."""
    from skimage.transform import resize

    from sirenkit.io import images
    from sirenkit.io.images import Image, resize_longer_side

    rng = np.random.default_rng(0)
    smooth = resize(rng.random((6, 8, 3)), (1200, 1600, 3), order=3)  # a smooth field: no detail near Nyquist
    image = Image(np.clip(smooth, 0, 1).astype(np.float32), 8, "photo")
    direct = np.clip(resize(image.pixels, (48, 64, 3), anti_aliasing=True, preserve_range=True), 0, 1)
    assert np.array_equal(resize_longer_side(image, 64).pixels, direct.astype(np.float32))  # 1.9 MP: direct
    monkeypatch.setattr(images, "BLOCK_MEAN_ABOVE", 1000)
    blocked = resize_longer_side(image, 64).pixels
    assert blocked.shape == (48, 64, 3)
    error = np.abs(blocked - direct)
    assert float(error.mean()) < 0.02 and float(error.max()) < 0.08
    assert not np.array_equal(blocked, direct.astype(np.float32))  # the block path did run


# ------------------------------------------------------------------------------------------------ bombs inside the size
def png_stream(path: Path, raw: bytes, width: int, height: int, depth: int = 8, colour: int = 0,
               interlace: bool = False) -> Path:
    """A PNG whose IDAT is `raw` (filter bytes and pixels) deflated at level 9, whatever its header declares."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    c = zlib.compressobj(9)
    data = b"".join(c.compress(raw[i : i + (1 << 22)]) for i in range(0, len(raw), 1 << 22)) + c.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, int(interlace))
    palette = chunk(b"PLTE", bytes(3 * 16)) if colour == 3 else b""
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + palette + chunk(b"IDAT", data)
                     + chunk(b"IEND", b""))
    return path


ZEROS_64_MB = bytes(64 << 20)  # deflates to 64 KB


def assert_bomb_refused(path: Path, name: str, peak_limit: int) -> None:
    """A small 2×2 image file whose data inflates past its header is refused with the bomb line, within SECONDS
    and with at most `peak_limit` bytes traced at once."""
    import tracemalloc

    assert path.stat().st_size < 100_000
    started = time.perf_counter()
    tracemalloc.start()
    try:
        with pytest.raises(UserError, match=rf"image .*{name} holds more pixel data than its header declares "
                                            r"\(2×2\); it is damaged or a decompression bomb"):
            load_image(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < peak_limit, f"peak {peak / 2**20:.1f} MB"
    assert time.perf_counter() - started < SECONDS


@pytest.mark.parametrize("interlace", [False, True], ids=["straight", "interlaced"])
def test_png_bomb_inside_its_declared_size(tmp_path, interlace):
    """A 2×2 PNG whose IDAT inflates to 64 MB (a 64 KB file; the probe's was 1 GB in 1 MB): pypng inflates a
    chunk whole, so it is inflated here first in small pieces and refused as soon as it holds more than the
    header allows — in a moment and in little memory (before: 64 MB held at once, 2.3 GB for the 1 GB one)."""

    path = png_stream(tmp_path / "bomb.png", ZEROS_64_MB, 2, 2, interlace=interlace)
    assert_bomb_refused(path, r"bomb\.png", 4 << 20)


@pytest.mark.parametrize("width,height,depth,colour,interlace", [
    (2, 2, 8, 0, False), (2, 2, 8, 0, True), (3, 2, 1, 0, True), (13, 7, 1, 0, False), (13, 7, 2, 0, True),
    (9, 11, 4, 3, True), (5, 3, 8, 2, False), (17, 9, 16, 2, True), (6, 5, 16, 4, True), (8, 8, 8, 6, True),
    (3, 10, 16, 6, False)])
def test_png_data_allowance_is_exact(tmp_path, width, height, depth, colour, interlace):
    """A PNG of zeros whose stream holds exactly what its header allows is read (rows × (1 + bytes per row), or
    the seven Adam7 passes); one byte more is refused with the bomb line."""
    from sirenkit.io.images import png_data_size

    planes = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[colour]
    size = png_data_size(width, height, depth * planes, interlace)
    image = load_image(png_stream(tmp_path / "exact.png", bytes(size), width, height, depth, colour, interlace))
    assert image.pixels.shape[:2] == (height, width)
    with pytest.raises(UserError, match="holds more pixel data than its header declares"):
        load_image(png_stream(tmp_path / "over.png", bytes(size + 1), width, height, depth, colour, interlace))


def test_png_data_size_matches_pypng(tmp_path):
    """The allowance is what pypng itself writes, interlaced or not."""
    import png

    from sirenkit.io.images import png_data_size

    rng = np.random.default_rng(7)
    for width, height, interlace in [(1, 1, True), (2, 2, True), (7, 3, True), (33, 17, True), (33, 17, False)]:
        path = tmp_path / "p.png"
        rows = rng.integers(0, 65535, (height, width * 3), dtype=np.uint16)
        with open(path, "wb") as f:
            png.Writer(width, height, greyscale=False, bitdepth=16, interlace=interlace).write(f, rows)
        reader = png.Reader(filename=str(path))
        idat = b"".join(data for kind, data in reader.chunks() if kind == b"IDAT")
        assert len(zlib.decompress(idat)) == png_data_size(width, height, 48, interlace)


def tiff_stream(path: Path, strip: bytes, width: int, height: int, compression: str = "zlib") -> Path:
    """A one-strip grey 8-bit TIFF of width × height whose strip holds `strip` (already compressed)."""
    import tifffile

    tifffile.imwrite(path, data=iter([strip]), shape=(height, width), dtype=np.uint8, compression=compression,
                     rowsperstrip=height)
    return path


@pytest.mark.parametrize("compression", ["zlib", "lzma", "lzma-second-stream"])
def test_tiff_bomb_inside_its_declared_size(tmp_path, compression):
    """tifffile inflates a strip in one call: a 2×2 TIFF whose strip inflates to 64 MB (a 64 KB file) held 128 MB
    and was accepted (a 256 KB file: 512 MB). Refused now in a moment and in little memory, also when the bomb is a
    second LZMA stream
    after a harmless one (`lzma.decompress`, which tifffile uses, reads on)."""
    import lzma

    strip = {"zlib": lambda: zlib.compress(ZEROS_64_MB, 9), "lzma": lambda: lzma.compress(ZEROS_64_MB),
             "lzma-second-stream": lambda: lzma.compress(bytes(4)) + lzma.compress(ZEROS_64_MB)}[compression]()
    path = tiff_stream(tmp_path / "bomb.tif", strip, 2, 2, compression.split("-")[0])
    # what is held: 64 KB steps, and for LZMA the dictionary its header asks for (8 MB at the default preset)
    assert_bomb_refused(path, r"bomb\.tif", 4 << 20 if compression == "zlib" else 12 << 20)


@pytest.mark.parametrize("layout", ["strips", "tiles", "planes", "predictor", "lzma", "bits", "one-byte-over"])
def test_compressed_tiffs_of_every_layout_are_read(tmp_path, layout):
    """Real zlib / LZMA TIFFs (strips, tiles, separate planes, a predictor, 1-bit) pass the strip check; a strip
    one byte longer than its rows is refused."""
    import tifffile

    from sirenkit.io.images import _check_tiff_stream

    path = tmp_path / "photo.tif"
    rng = np.random.default_rng(8)
    rgb = rng.integers(0, 65535, (37, 45, 3), dtype=np.uint16)
    if layout == "strips":
        tifffile.imwrite(path, rgb, photometric="rgb", compression="zlib", rowsperstrip=8)
    elif layout == "tiles":
        tifffile.imwrite(path, rgb, photometric="rgb", compression="zlib", tile=(16, 16))
    elif layout == "planes":
        tifffile.imwrite(path, np.moveaxis(rgb, -1, 0).copy(), photometric="rgb", planarconfig="separate",
                         compression="zlib", rowsperstrip=8)
        _check_tiff_stream(path)  # passes; (imageio then reads the planes as (3, 37, 45): not this check's business)
        return
    elif layout == "predictor":
        tifffile.imwrite(path, rgb[..., 0], compression="zlib", predictor=True)
    elif layout == "lzma":
        tifffile.imwrite(path, rgb, photometric="rgb", compression="lzma", rowsperstrip=8)
    elif layout == "bits":
        tifffile.imwrite(path, rng.random((37, 45)) > 0.5, compression="zlib")
    else:
        tiff_stream(path, zlib.compress(bytes(37 * 45 + 1)), 45, 37)
        with pytest.raises(UserError, match="holds more pixel data than its header declares"):
            load_image(path)
        tiff_stream(path, zlib.compress(bytes(37 * 45)), 45, 37)
    assert load_image(path).pixels.shape[:2] == (37, 45)


@pytest.mark.parametrize("shape", ["obj", "stl", "ply", "xyz", "xyz-estimated", "ply-cloud", "eval-mesh"])
def test_shapes_at_the_coordinate_bound_are_read_without_warnings(shape, tmp_path, capsys):
    """A shape with coordinates of ±1e15 (the bound) is fitted, or compared, with no warning on the way: trimesh
    merged vertices as int64 of coordinate × 1e8, which overflowed (a RuntimeWarning) above 4.6e10."""
    import trimesh

    from sirenkit.io.meshes import MAX_COORDINATE, load_mesh

    if shape == "eval-mesh":
        mesh = tetrahedron(tmp_path / "t.obj", MAX_COORDINATE)
        code, err = badinput.call(["eval-mesh", str(mesh), str(mesh), "--samples", "100"], capsys)
        assert code == 0 and err == "", err
        return
    kind, _, estimated = shape.partition("-")
    if kind in ("xyz", "ply") and (estimated or shape == "xyz"):
        path = sphere_cloud(tmp_path / f"s.{kind}", -MAX_COORDINATE)
    else:
        path = tetrahedron(tmp_path / f"t.{kind}", MAX_COORDINATE)
    if kind == "stl":  # every triangle's corners stored apart: merged into 4 vertices, as below the bound
        assert len(load_mesh(path).vertices) == 4
        assert len(trimesh.load(str(path), process=False).vertices) == 12
    extra = ["--estimate-normals"] if estimated else []
    code, err = badinput.call(fit("sdf", str(path), *extra, "--mesh-resolution", "16")(
        Env(tmp_path, tmp_path, tmp_path, tmp_path, tmp_path)), capsys)
    assert code == 0 and "WARNING" not in err and "Warning" not in err, err
