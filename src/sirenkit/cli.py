"""The `sirenkit` command line. Subcommands come from the task registry; flags come from config fields."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from ._version import __version__
from .config import add_arguments, number_type
from .errors import UserError
from .failures import first_line, out_of_memory, signals_as_interrupts
from .io.atomic import describe_os_error, dumps_json, write_json
from .io.limits import LIMIT_FLAGS, input_limits

VERB_HELP = {
    "fit": "fit a network to a signal",
    "poisson": "reconstruct an image from its derivatives, or blend two",
    "solve": "solve a PDE with a network",
    "invert": "recover a medium from measurements",
    "meta": "learn a space of SIRENs",
}
"""One-line help of each command group in `sirenkit --help` (followed by its tasks)."""


INT, FLOAT = number_type(int), number_type(float)
"""Types of the hand-written numeric arguments: 64-bit integers and finite numbers, as for the generated flags."""


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error (no usage dump) and exit code 2."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("allow_abbrev", False)  # `--ov` must not mean `--overwrite`
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    from .models import ModelConfig
    from .runner import RunOptions
    from .tasks import REGISTRY
    from .train.trainer import TrainConfig

    parser = _Parser(
        prog="sirenkit",
        description="Fit sine networks (SIREN) to images and other signals; render and inspect the results.",
    )
    parser.add_argument("--version", action="version", version=f"sirenkit {__version__}")
    verbs = parser.add_subparsers(dest="verb", metavar="COMMAND", parser_class=_Parser)
    groups: dict[str, argparse._SubParsersAction] = {}
    for task_cls in REGISTRY.values():
        verb, noun = task_cls.command
        if verb not in groups:
            what = VERB_HELP.get(verb, f"{verb} a network")
            nouns = _nouns(verb) + (["eval", "inpaint"] if verb == "meta" else [])
            sub = verbs.add_parser(verb, help=f"{what} ({', '.join(nouns)})")
            groups[verb] = sub.add_subparsers(dest="noun", metavar="TASK", parser_class=_Parser, required=True)
        p = groups[verb].add_parser(
            noun, help=task_cls.description, description=task_cls.description,
            epilog=_recipe_epilog(task_cls), formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        add_arguments(p, task_cls.Config, f"{noun} options")
        add_arguments(p, ModelConfig, "model options")
        add_arguments(p, TrainConfig, "training options")
        add_arguments(p, RunOptions, "run options")
        p.set_defaults(handler="task", task_name=task_cls.name)

    if "meta" in groups:
        _add_meta_verbs(groups["meta"])

    render = verbs.add_parser("render", help="sample a finished run's network at any resolution",
                              description="Sample a finished run's network at any resolution, chunked.")
    render.add_argument("run_dir", metavar="RUN_DIR", help="folder of a finished run")
    render.add_argument("--size", type=INT, default=None, help="longer side in pixels (default: the fitted size)")
    render.add_argument("--frames", type=INT, default=None, help="video runs: number of frames (default: as fitted)")
    render.add_argument("--out", default=None, help="output file (default: RUN_DIR/render-SIZE.png)")
    render.add_argument("--chunk", type=INT, default=65536, help="points evaluated at once (bounds memory)")
    render.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    _add_overwrite(render, "--out")
    render.set_defaults(handler="render")

    mesh = verbs.add_parser("mesh", help="extract a triangle mesh from a finished sdf run (marching cubes)",
                            description="Marching cubes over a finished sdf run's network, evaluated sparsely in "
                                        "slabs so memory stays bounded; writes the mesh in the input's units "
                                        "and a shaded preview PNG beside it.")
    mesh.add_argument("run_dir", metavar="RUN_DIR", help="folder of a finished `sirenkit fit sdf` run")
    mesh.add_argument("--resolution", type=INT, default=512, help="grid nodes per axis (default: 512)")
    mesh.add_argument("--out", default=None, help="mesh file, .ply or .obj (default: RUN_DIR/mesh-RES.ply)")
    mesh.add_argument("--level", type=FLOAT, default=0.0, help="iso-level to extract (default: 0)")
    mesh.add_argument("--min-component", type=FLOAT, default=0.0,
                      help="drop connected parts with fewer than this fraction of the largest part's faces "
                           "(detached specks; default 0: keep all; e.g. 0.01)")
    mesh.add_argument("--chunk", type=INT, default=65536, help="points per network call (bounds memory)")
    mesh.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    _add_overwrite(mesh, "--out and its preview")
    mesh.set_defaults(handler="mesh")

    ev = verbs.add_parser("eval-mesh", help="Chamfer, normal consistency and F-score of a mesh against another",
                          description="Compare mesh PRED with ground-truth mesh GT: both are put into GT's frame "
                                      "scaled to [−1, 1]³ and sampled; prints the metrics as JSON.")
    ev.add_argument("pred", metavar="PRED", help="predicted mesh (.ply/.obj/.off/.stl)")
    ev.add_argument("gt", metavar="GT", help="ground-truth mesh (.ply/.obj/.off/.stl)")
    ev.add_argument("--samples", type=INT, default=1_000_000, help="surface samples per mesh (default: 1e6)")
    ev.add_argument("--threshold", type=FLOAT, default=0.01, help="F-score distance threshold (default: 0.01)")
    ev.add_argument("--seed", type=INT, default=0, help="sampling seed")
    ev.add_argument("--json", default=None, metavar="FILE", help="also write the metrics to FILE")
    _add_overwrite(ev, "--json FILE")
    ev.set_defaults(handler="eval-mesh")

    _add_export_verbs(verbs)

    bench = verbs.add_parser("bench", help="benchmarks (suite: reference vs default step time and memory; "
                                           "activations: every representation at one parameter budget)")
    bench_verbs = bench.add_subparsers(dest="noun", metavar="BENCH", parser_class=_Parser, required=True)
    suite = bench_verbs.add_parser("suite", help="image, Poisson, SDF and Helmholtz: official-style reference "
                                                 "vs sirenkit's default step (time, memory, ratio)")
    from .bench.suite import add_arguments as _suite_arguments

    _suite_arguments(suite)
    suite.set_defaults(handler="bench-suite")
    acts = bench_verbs.add_parser(
        "activations", help="every representation on the same images at the same parameter budget: PSNR vs steps "
                            "and seconds", description="Fit every representation (--activation) to the same images "
                            "with the same seed, pixels, schedule and parameter budget; print a ranked table.")
    from .bench.activations import add_arguments as _activation_arguments

    _activation_arguments(acts)
    acts.set_defaults(handler="bench-activations")

    rep = verbs.add_parser("reproduce", help="one of the paper's experiments under a fair protocol: tuned learning "
                                             "rates, equal budgets, several seeds; a table beside the paper's numbers",
                           description="Run one of the paper's experiments (docs/reproduction.md) and write "
                                       "results.md, results.json and figure.png.")
    from .reproduce.run import add_arguments as _reproduce_arguments

    _reproduce_arguments(rep)
    rep.set_defaults(handler="reproduce")
    return parser


def _add_meta_verbs(group: argparse._SubParsersAction) -> None:
    """`meta eval` and `meta inpaint`, beside the registered `meta train`."""
    ev = group.add_parser("eval", help="test-split MSE of a meta run from 10, 100, 1000 pixels and the top half",
                          description="Reconstruct the test images of a finished `meta train` run from fixed, "
                                      "seeded contexts and print the MSE (images in [0, 1]) per context size.")
    ev.add_argument("run_dir", metavar="RUN", help="folder of a finished `sirenkit meta train` run")
    ev.add_argument("--context", default="10,100,1000,half",
                    help="comma-separated context sizes in pixels, or 'half' (default: 10,100,1000,half)")
    ev.add_argument("--split", default="test", choices=("test", "validation"),
                    help="test (default), or validation for a run trained with --eval-split validation")
    ev.add_argument("--images", type=INT, default=0, help="evaluate the first N test images (default 0: all)")
    ev.add_argument("--data", default=None, metavar="DIR", help="image folder to test on (default: the run's)")
    ev.add_argument("--json", default=None, metavar="FILE", help="also write the metrics to FILE")
    ev.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    _add_max_pixels(ev)
    _add_overwrite(ev, "--json FILE")
    ev.set_defaults(handler="meta-eval")
    inp = group.add_parser("inpaint", help="reconstruct an image from a few of its pixels with a meta run",
                           description="Centre-crop and resize IMAGE to the run's size, keep CONTEXT random "
                                       "pixels (or the top half) and write context | reconstruction | truth.")
    inp.add_argument("run_dir", metavar="RUN", help="folder of a finished `sirenkit meta train` run")
    inp.add_argument("image", metavar="IMAGE", help="image file (PNG, JPEG, TIFF, BMP or WebP)")
    inp.add_argument("--context", default="100", help="context pixels, or 'half' (default: 100)")
    inp.add_argument("--seed", type=INT, default=0, help="seed of the random context pixels")
    inp.add_argument("--out", default=None, help="output PNG (default: RUN/inpaint-IMAGE-CONTEXT.png)")
    inp.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    _add_max_pixels(inp)
    _add_overwrite(inp, "--out")
    inp.set_defaults(handler="meta-inpaint")


def _add_overwrite(parser: argparse.ArgumentParser, what: str) -> None:
    """`--overwrite` for a command that writes files beside a run or anywhere: without it, an existing file that
    sirenkit cannot prove it wrote is never replaced (docs/errors.md, "Run folders")."""
    parser.add_argument("--overwrite", action="store_true",
                        help=f"replace an existing {what} that sirenkit did not write (never a file of a run's fit)")


def _add_max_pixels(parser: argparse.ArgumentParser) -> None:
    """`--max-pixels N` for a hand-written command that reads images (the fit commands get it from RunOptions);
    the value is checked (a positive integer) where the CLI enters `sirenkit.io.limits.input_limits`."""
    from .io.limits import DEFAULT_MAX_PIXELS, HELP

    parser.add_argument("--max-pixels", type=INT, default=None, metavar="N",
                        help=f"{HELP['max_pixels']} (default: {DEFAULT_MAX_PIXELS})")


def _add_export_verbs(verbs: argparse._SubParsersAction) -> None:
    """`export` (a run's network as ONNX) and `compress` (COIN-style quantised image runs)."""
    from .export import DEFAULT_OPSET, MAX_OPSET, MIN_OPSET

    ex = verbs.add_parser("export", help="write a run's network as an ONNX file (coords in, values out)",
                          description="Write the network of a finished run as an ONNX graph with input `coords` "
                                      "(N, in_features) float32, N dynamic, and output `values` "
                                      "(N, out_features), plus FILE.json beside it: the task, the model spec, the "
                                      "fitted signal and what the coordinates and outputs mean. The file is "
                                      "checked in onnxruntime (when installed) against PyTorch on random "
                                      "coordinates. Needs `pip install 'sirenkit[export]'`. Coordinate networks "
                                      "only: `meta train` runs are refused.")
    ex.add_argument("run_dir", metavar="RUN", help="folder of a finished run (or its checkpoint.safetensors)")
    ex.add_argument("--onnx", default=None, metavar="FILE", help="ONNX file to write (default: RUN/model.onnx)")
    ex.add_argument("--opset", type=INT, default=DEFAULT_OPSET,
                    help=f"ONNX opset version, {MIN_OPSET}–{MAX_OPSET} (default: {DEFAULT_OPSET}, read by "
                         "onnxruntime ≥ 1.12)")
    _add_overwrite(ex, "--onnx FILE and its sidecar")
    ex.set_defaults(handler="export")

    co = verbs.add_parser("compress", help="store an image run as its quantised network (COIN) and report bpp, PSNR",
                          description="COIN-style compression (Dupont et al. 2021) of a finished `fit image` run "
                                      "(image runs only): its network's weights as float16 (--bits 16) or as "
                                      "uint8 with a float32 scale and offset per tensor (--bits 8). Writes "
                                      "the .safetensors file and the decoded image beside it (.png), and prints "
                                      "JSON: bits, parameters, payload_bytes (quantised weights + scales), "
                                      "file_bytes, bpp (payload bits per pixel, H×W), psnr of the decoded "
                                      "network and psnr_original of the unquantised one, against the run's "
                                      "image rebuilt from its config.json.")
    co.add_argument("run_dir", metavar="RUN", help="folder of a finished `sirenkit fit image` run")
    co.add_argument("--bits", type=int, choices=(16, 8), default=16,
                    help="16: float16 weights; 8: per-tensor uniform 8-bit quantisation (default: 16)")
    co.add_argument("--out", default=None, metavar="FILE",
                    help="compressed file, .safetensors (default: RUN/compressed-BITSbit.safetensors; the "
                         "decoded image goes beside it as .png)")
    _add_max_pixels(co)  # the run's image is read again
    _add_overwrite(co, "--out and its decoded image")
    co.set_defaults(handler="compress")


def _recipe_epilog(task_cls) -> str:
    lines = ["recipes (applied before the config file and explicit flags; the defaults shown above are before them):"]
    for name, note in task_cls.recipe_notes.items():
        lines.append(f"  {name:6s} {note}")
    lines.append("  auto   gpu on CUDA/MPS, cpu otherwise")
    return "\n".join(lines)


def _nouns(verb: str) -> list[str]:
    from .tasks import REGISTRY

    return [t.command[1] for t in REGISTRY.values() if t.command[0] == verb]


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        limits = {name: getattr(args, name) for name in LIMIT_FLAGS if hasattr(args, name)}
        with signals_as_interrupts(), input_limits(**limits):
            return _dispatch(args)
    except UserError as exc:
        print(f"sirenkit: error: {one_line(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt as exc:  # outside a fit's training loop (that one writes a checkpoint and says so)
        print(f"sirenkit: error: {getattr(exc, 'how', 'interrupted')}; temporary files removed, nothing "
              "half-written left", file=sys.stderr)
        return getattr(exc, "exit_code", 130)
    except (MemoryError, RuntimeError, ValueError, OSError) as exc:
        if out_of_memory(exc):
            flags = memory_flags(args)
            print(f"sirenkit: error: out of memory ({first_line(exc)})" + (f"; try a smaller {flags}" if flags else ""),
                  file=sys.stderr)
            return 2
        if isinstance(exc, ValueError) and "null byte" in str(exc):  # os functions refuse a NUL in a file name
            print("sirenkit: error: a file or folder name holds a NUL character (\\0), which no file system allows",
                  file=sys.stderr)
            return 2
        if not isinstance(exc, OSError):
            raise
        # the file system refused something sirenkit's own checks did not foresee (a name too long, no permission)
        where = f" {exc.filename}" if exc.filename else ""
        print(f"sirenkit: error: cannot access{one_line(where)}: {describe_os_error(exc)}", file=sys.stderr)
        return 2


_LINE_BREAKS = {code: repr(chr(code))[1:-1] for code in [*range(0x20), 0x7F, 0x85, 0x2028, 0x2029] if code != 0x09}


def one_line(text: str) -> str:
    """`text` with every control character (but tab) and every character that would start a new line shown as
    its escape (`\\n`, `\\x00`): a file name or a JSON key from the user may hold one, and an error is one
    line."""
    return text.translate(_LINE_BREAKS)


MEMORY_FLAGS = {
    "render": "--size, --frames or --chunk",
    "mesh": "--resolution or --chunk",
    "eval-mesh": "--samples",
    "meta-eval": "--images",
    "bench-activations": "--size, --batch-pixels, --hidden-features or --max-images",
    "bench-suite": "set of --workloads, or --quick",
}
"""The flags that shrink each hand-written command's memory (task commands name theirs: `Task.memory_flags`)."""


def memory_flags(args: argparse.Namespace) -> str:
    if args.handler == "task":
        from .tasks import get_task

        return get_task(args.task_name).memory_flags()
    return MEMORY_FLAGS.get(args.handler, "")


def _dispatch(args: argparse.Namespace) -> int:
    """Run the command `args` names; returns its exit code."""
    if args.handler == "bench-activations":
        from .bench.activations import run_from_args as _run_activations

        return _run_activations(args)
    if args.handler == "reproduce":
        from .reproduce.run import run_from_args as _run_reproduce

        return _run_reproduce(args)
    if args.handler == "bench-suite":
        from .bench.suite import run_from_args

        return run_from_args(args)
    if args.handler == "mesh":
        from .tasks.sdf import mesh_run

        path, result = mesh_run(args.run_dir, args.resolution, args.out, args.chunk, args.device, args.level,
                                args.min_component, args.overwrite)
        removed = f", {result.dropped_components} small parts dropped" if args.min_component > 0 else ""
        print(f"{path}: {len(result.vertices):,} vertices, {len(result.faces):,} faces{removed}, "
              f"{result.evaluated:,} network evaluations, {result.seconds:.1f} s, "
              f"peak resident memory {result.peak_rss_mb:,.0f} MB")
        return 0
    if args.handler == "eval-mesh":
        from .runs.folder import writing_outputs
        from .tasks.sdf import eval_mesh

        outputs = [(args.json, "--json")] if args.json else []
        with writing_outputs(outputs, "eval-mesh", overwrite=args.overwrite, inputs=(args.pred, args.gt)):
            metrics = eval_mesh(args.pred, args.gt, args.samples, args.threshold, args.seed)
            if args.json:
                write_json(args.json, metrics)
        print(dumps_json(metrics))
        return 0
    if args.handler == "meta-eval":
        from .tasks.meta import meta_eval

        print(dumps_json(meta_eval(args.run_dir, args.context, args.images, args.data, args.device, args.json,
                                   args.overwrite, split=args.split)))
        return 0
    if args.handler == "meta-inpaint":
        from .tasks.meta import meta_inpaint

        path, mse = meta_inpaint(args.run_dir, args.image, args.context, args.out, args.seed, args.device,
                                 args.overwrite)
        given = "the top half" if args.context.strip().lower() == "half" else f"{args.context} context pixels"
        print(f"{path}: MSE {mse:.5f} from {given}")
        return 0
    if args.handler == "export":
        import json

        from .export import export_onnx
        from .export.onnx_export import sidecar_path

        path = export_onnx(args.run_dir, args.onnx, args.opset, args.overwrite)
        record = json.loads(sidecar_path(path).read_text(encoding="utf-8"))
        check = record.get("check")
        checked = ("not checked (onnxruntime is not installed: pip install onnxruntime)" if check is None else
                   f"{check['runtime']}: max |ONNX − PyTorch| {check['max_abs_diff']:.1e} on {check['points']:,} "
                   "random points")
        print(f"{path} (+ {sidecar_path(path).name}): {record['task']} network, {record['parameters']:,} "
              f"parameters, coords (N, {record['input']['shape'][1]}) → values (N, "
              f"{record['output']['shape'][1]}), opset {record['opset']}; {checked}")
        return 0
    if args.handler == "compress":
        from .compression import compress

        print(dumps_json(compress(args.run_dir, args.bits, args.out, args.overwrite)))
        return 0
    if args.handler == "render":
        from .rendering import render_run

        path = render_run(args.run_dir, args.size, args.out, args.chunk, args.device, args.frames, args.overwrite)
        print(path)
        return 0
    from .runner import run_task
    from .tasks import get_task

    options = {k: v for k, v in vars(args).items() if k not in ("handler", "task_name", "verb", "noun")}
    run_task(get_task(args.task_name), options)
    return 0


def entry() -> None:
    """Console-script entry point."""
    os.environ.setdefault("PYTHONWARNINGS", "ignore::UserWarning:torch")
    sys.exit(main())
