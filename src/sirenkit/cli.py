"""The `sirenkit` command line. Subcommands come from the task registry; flags come from config fields."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from . import __version__
from .config import add_arguments
from .errors import UserError


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error (no usage dump) and exit code 2."""

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
            sub = verbs.add_parser(verb, help=f"{verb} a network ({', '.join(_nouns(verb))})")
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

    render = verbs.add_parser("render", help="sample a finished run's network at any resolution",
                              description="Sample a finished run's network at any resolution, chunked.")
    render.add_argument("run_dir", metavar="RUN_DIR", help="folder of a finished run")
    render.add_argument("--size", type=int, default=None, help="longer side in pixels (default: the fitted size)")
    render.add_argument("--frames", type=int, default=None, help="video runs: number of frames (default: as fitted)")
    render.add_argument("--out", default=None, help="output file (default: RUN_DIR/render-SIZE.png)")
    render.add_argument("--chunk", type=int, default=65536, help="points evaluated at once (bounds memory)")
    render.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    render.set_defaults(handler="render")
    return parser


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
        if args.handler == "render":
            from .runner import render_run

            path = render_run(args.run_dir, args.size, args.out, args.chunk, args.device, args.frames)
            print(path)
            return 0
        from .runner import run_task
        from .tasks import get_task

        options = {k: v for k, v in vars(args).items() if k not in ("handler", "task_name", "verb", "noun")}
        run_task(get_task(args.task_name), options)
        return 0
    except UserError as exc:
        print(f"sirenkit: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("sirenkit: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print("sirenkit: error: out of memory; try a smaller --size, --batch-pixels or --chunk", file=sys.stderr)
        return 2


def entry() -> None:
    """Console-script entry point."""
    os.environ.setdefault("PYTHONWARNINGS", "ignore::UserWarning:torch")
    sys.exit(main())
