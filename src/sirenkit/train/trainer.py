"""The one training loop for every task: Adam, lr schedule, clipping, logging, checkpoints, resume.

It knows nothing about pixels, meshes or PDEs: it asks the task for a batch and a dict of named loss terms,
sums and minimises them, and calls the task's `evaluate` every `eval_every` steps. On a GPU it never
synchronises with the host except at log, eval and checkpoint steps.
"""

from __future__ import annotations

import csv
import functools
import io
import logging
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

import torch
from torch import Tensor, nn

from ..config import option
from ..errors import TrainingDiverged, UserError, check_all
from ..io.atomic import write_text
from ..models.numerics import NumericsPlan, plan_numerics
from ..models.precision import autocast_context, outside_compiled
from ..runs.files import CHECKPOINT, CURVE
from ..tasks.base import Task
from .callbacks import Callback
from .checkpoint import (
    load_checkpoint,
    load_model_state,
    optimizer_tensors,
    prefixed,
    restore_optimizer,
    save_checkpoint,
    strip_prefix,
)
from .device import synchronize
from .schedule import lr_factor


class Interrupted(UserError):
    """Ctrl-C (exit code 130) or SIGTERM (143) during training: a checkpoint was written and the run can be
    resumed."""

    def __init__(self, message: str, exit_code: int = 130) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class TrainConfig:
    """How to optimise: steps, learning rate and schedule, logging and checkpoints."""

    steps: int = option(2000, "number of optimisation steps")
    lr: float = option(1e-4, "peak learning rate of Adam")
    schedule: Literal["constant", "cosine"] = option("constant", "learning-rate schedule after warm-up")
    lr_final: float = option(0.01, "cosine: final learning rate as a fraction of --lr")
    warmup_steps: int = option(0, "steps of linear learning-rate warm-up")
    clip_grad: float = option(0.0, "clip the global gradient norm to this value (0: no clipping)")
    seed: int = option(0, "random seed for initialisation and sampling")
    device: str = option("auto", "auto (cuda > mps > cpu), cpu, cuda, cuda:N or mps")
    max_seconds: float | None = option(None, "stop after this much training time (seconds), checkpoint kept")
    checkpoint_every: int = option(1000, "write a checkpoint every N steps (0: only at the end)")
    log_every: int = option(50, "record the loss every N steps (the only host synchronisation on a GPU)")
    eval_every: int = option(250, "evaluate the task metric on the whole signal every N steps")
    compile: Literal["auto", "on", "off"] = option(
        "auto", "torch.compile the loss (auto: on CUDA; on a CPU for closed-form derivative losses and bf16 "
        "image fits; a failed compilation falls back to eager)"
    )
    precision: Literal["auto", "fp32", "bf16", "bf16-backward"] = option(
        "auto", "fp32; bf16: bf16 matmuls in the hidden layers (autocast; coordinates, first layer, activations "
        "and loss stay fp32); bf16-backward: fp32 forward pass, derivatives and loss, bf16 matmuls only in the "
        "parameters' backward pass; auto: bf16 where it was measured to lose nothing (image, images, video, "
        "audio, poisson gradient/laplacian), bf16-backward where that was (sdf, poisson blend), with hidden "
        "layers ≥ 256 wide on hardware with fast bf16 (CUDA sm80+, CPUs with AMX or AVX512-BF16); fp32 otherwise "
        "and for --recipe paper"
    )
    cuda_graphs: bool = option(
        False, "replay the compiled loss and its backward as CUDA graphs (torch.compile mode reduce-overhead): "
        "fewer kernel launches when the batch shape is fixed; CUDA only, not with --compile off"
    )
    tensorboard: bool = option(False, "also log to <out>/tensorboard")

    def validate(self) -> None:
        from ..config import MAX_SEED, check_values, in_range

        check_values(self)
        checks = [
            (self.steps >= 1, "--steps must be ≥ 1"),
            (self.lr > 0 and math.isfinite(self.lr), "--lr must be a positive number"),
            in_range("--seed", self.seed, 0, MAX_SEED),
            (0 <= self.lr_final <= 1, "--lr-final must be in [0, 1]"),
            (self.warmup_steps >= 0, "--warmup-steps must be ≥ 0"),
            (self.clip_grad >= 0, "--clip-grad must be ≥ 0 (0 turns clipping off)"),
            (self.max_seconds is None or self.max_seconds > 0, "--max-seconds must be positive"),
            (self.checkpoint_every >= 0, "--checkpoint-every must be ≥ 0"),
            (self.log_every >= 1, "--log-every must be ≥ 1"),
            (self.eval_every >= 1, "--eval-every must be ≥ 1"),
            (not (self.cuda_graphs and self.compile == "off"), "--cuda-graphs replays the compiled step: "
             "use --compile on or auto with it"),
        ]
        check_all(checks)

    def check_device(self, device: torch.device) -> None:
        """Refuse settings that the chosen device cannot run (before anything is written)."""
        if self.cuda_graphs and device.type != "cuda":
            raise UserError(f"--cuda-graphs needs a CUDA device; this run uses {device}")


# Settings that may change when a run is resumed; everything else must match the stored config.
RESUMABLE_TRAIN_FIELDS = frozenset(
    {"steps", "max_seconds", "checkpoint_every", "log_every", "eval_every", "tensorboard", "device", "compile",
     "cuda_graphs"}
)


@dataclass
class TrainResult:
    steps: int
    seconds: float
    curve: list[dict[str, Any]] = field(default_factory=list)
    stopped_early: bool = False


class Trainer:
    """Runs `TrainConfig` on a task and a model, writing checkpoints and curve.csv into `out_dir`."""

    def __init__(
        self,
        config: TrainConfig,
        device: torch.device,
        out_dir: Path | None = None,
        callbacks: list[Callback] | None = None,
        checkpoint_meta: dict[str, Any] | None = None,
        writer: bool = True,
    ) -> None:
        config.validate()
        config.check_device(device)
        self.config = config
        self.device = device
        self.out_dir = out_dir
        self.writer = writer  # False on the other ranks of a torchrun job: they read checkpoints, never write
        self.callbacks = list(callbacks or [])
        self.checkpoint_meta = dict(checkpoint_meta or {})

    def plan(self, task: Task, model: nn.Module) -> NumericsPlan:
        """The precision, TF32 and compile plan this trainer runs `task` with (models/numerics.py): what the
        task's loss tolerates, as asked by --precision, --compile and --cuda-graphs. Refuses a precision the
        network or the loss cannot honour."""
        return numerics_plan(task, model, self.config, self.device)

    # ----------------------------------------------------------------- state
    def _make_optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        kwargs: dict[str, Any] = {"lr": self.config.lr}
        if self.device.type == "cuda":
            kwargs["fused"] = True
        return torch.optim.Adam(model.parameters(), **kwargs)

    def _save(self, model, optimizer, generator, step, seconds, curve) -> None:
        if self.out_dir is None or not self.writer:
            return
        bad = [name for name, p in model.named_parameters() if not bool(torch.isfinite(p).all())]
        if bad:  # never overwrite the last good checkpoint with a diverged state
            raise TrainingDiverged(
                f"training diverged: parameter {bad[0]} became NaN or infinite by step {step}; the last checkpoint "
                f"is kept. Try a lower --lr (now {self.config.lr:g}) or --clip-grad 1")
        tensors = {
            **prefixed("model", model.state_dict()),
            **prefixed("optimizer", optimizer_tensors(optimizer)),
            "rng.generator": generator.get_state(),
            "rng.torch": torch.get_rng_state(),
        }
        record = {**self.checkpoint_meta, "step": step, "seconds": seconds, "lr": self.config.lr}
        save_checkpoint(self.out_dir / CHECKPOINT, tensors, record)
        write_curve(self.out_dir / CURVE, curve)

    def check_resume(self, model: nn.Module, checkpoint: tuple[dict[str, Tensor], dict[str, Any]]) -> None:
        """Restore `checkpoint` (as `load_checkpoint` read it from the run folder) into a copy of `model` with a
        fresh optimizer and generator, then drop them: a checkpoint that cannot be resumed is refused before the
        runner rewrites anything in the run folder."""
        import copy

        spare = copy.deepcopy(model)
        with torch.random.fork_rng(devices=[]):  # _restore sets the global CPU generator
            self._restore(spare, self._make_optimizer(spare), self._new_generator(), checkpoint)

    def _new_generator(self) -> torch.Generator:
        """The generator that draws the batches, seeded by `--seed`."""
        generator = torch.Generator(device=self.device if self.device.type == "cuda" else "cpu")
        return generator.manual_seed(self.config.seed)

    def _restore(self, model, optimizer, generator, checkpoint=None) -> tuple[int, float, list[dict[str, Any]]]:
        """Load model, optimizer, generators, step and curve from the run folder's checkpoint (or `checkpoint`,
        already read from it)."""
        assert self.out_dir is not None
        where = str(self.out_dir)
        tensors, record = checkpoint if checkpoint is not None else load_checkpoint(self.out_dir / CHECKPOINT)
        load_model_state(model, tensors, where)
        restore_optimizer(optimizer, {k: v.to(self.device) for k, v in strip_prefix("optimizer", tensors).items()},
                          where)
        try:  # a damaged or edited checkpoint: one line, not torch's shape or dtype error
            step, seconds = int(record["step"]), float(record["seconds"])
            if step < 0:
                raise ValueError(step)
            generator.set_state(tensors["rng.generator"])
            torch.set_rng_state(tensors["rng.torch"])
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            detail = (str(exc).splitlines() or [type(exc).__name__])[0]
            raise UserError(f"checkpoint {where} cannot be resumed: its step count or random-generator state is "
                            f"missing or damaged ({detail})") from None
        curve = [row for row in read_curve(self.out_dir / CURVE) if row["step"] <= step]
        return step, seconds, curve

    # ----------------------------------------------------------------- loop
    def fit(self, task: Task, model: nn.Module, resume: bool = False) -> TrainResult:
        """Train `model` on `task` up to `config.steps` (continuing from the checkpoint when `resume`)."""
        plan = self.plan(task, model)
        previous_precision = torch.get_float32_matmul_precision()
        if self.device.type == "cuda":  # TF32 matmuls on Ampere and newer, where the task allows them
            torch.set_float32_matmul_precision("high" if plan.tf32 else "highest")
        # On a CPU, subnormal floats (below 1.2e-38, e.g. from Gaussian envelopes or vanishing gradients) are
        # handled in microcode and slow every operation touching them: a WIRE step at lr 1e-1 took 1.6 s with
        # them and 0.2 s flushed to zero (4,096 points, 1 thread). Flushed during training, restored after.
        flush = self.device.type == "cpu" and torch.set_flush_denormal(True)
        try:
            return self._fit(task, model, resume, plan)
        finally:
            torch.set_float32_matmul_precision(previous_precision)
            if flush:
                torch.set_flush_denormal(False)

    def _fit(self, task: Task, model: nn.Module, resume: bool, plan: NumericsPlan) -> TrainResult:
        cfg = self.config
        optimizer = self._make_optimizer(model)
        generator = self._new_generator()
        curve: list[dict[str, Any]]
        start, seconds, curve = 0, 0.0, []
        if resume:
            start, seconds, curve = self._restore(model, optimizer, generator)
        loss_fn = self._loss_fn(task, model, plan)
        params: list[Tensor] = [p for p in model.parameters() if p.requires_grad]
        check_every_step = self.device.type == "cpu"

        for cb in self.callbacks:
            cb.on_start(start, cfg.steps)
        if start == 0 and not curve:
            curve.append(self._eval_row(task, model, 0, 0.0, None, {}))
            self._emit(curve[-1])

        step = start
        last_good = start
        loss = torch.zeros((), device=self.device)
        terms: dict[str, Tensor] = {}
        stopped_early = False
        clock = time.perf_counter()
        try:
            while step < cfg.steps:
                factor = lr_factor(step, cfg.steps, cfg.schedule, cfg.warmup_steps, cfg.lr_final)
                for group in optimizer.param_groups:
                    group["lr"] = cfg.lr * factor
                batch = task.batch(step, generator)
                terms = loss_fn(batch)
                # a sum of two or more tensors is a tensor (never sum's start value 0)
                loss = cast(Tensor, sum(terms.values())) if len(terms) > 1 else next(iter(terms.values()))
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if cfg.clip_grad > 0:
                    task.clip_gradients(model, params, cfg.clip_grad)
                optimizer.step()
                step += 1
                for cb in self.callbacks:
                    cb.on_step(step)

                log_now = step % cfg.log_every == 0 or step == cfg.steps
                eval_now = step % cfg.eval_every == 0 or step == cfg.steps
                if check_every_step or log_now or eval_now:
                    loss_value = float(loss.detach())
                    if not math.isfinite(loss_value):
                        raise TrainingDiverged(self._divergence_message(step, loss_value, last_good))
                elapsed = seconds + time.perf_counter() - clock
                out_of_time = cfg.max_seconds is not None and elapsed >= cfg.max_seconds
                ckpt_now = cfg.checkpoint_every > 0 and step % cfg.checkpoint_every == 0
                if log_now or eval_now or out_of_time or ckpt_now:
                    synchronize(self.device)
                    seconds += time.perf_counter() - clock
                    lr_now = optimizer.param_groups[0]["lr"]
                    if eval_now or out_of_time:
                        row = self._eval_row(task, model, step, seconds, loss, terms, lr_now)
                    else:
                        row = self._row(step, seconds, loss, terms, lr_now)
                    row["it_per_s"] = self._rate(curve, step, seconds)
                    curve.append(row)
                    self._emit(row)
                    if ckpt_now or out_of_time:
                        self._save(model, optimizer, generator, step, seconds, curve)
                        last_good = step
                    clock = time.perf_counter()
                if out_of_time:
                    stopped_early = step < cfg.steps
                    break
        except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM/SIGHUP as the CLI turns them into one
            synchronize(self.device)
            seconds += time.perf_counter() - clock
            self._save(model, optimizer, generator, step, seconds, curve)
            for cb in self.callbacks:
                cb.on_end()
            how = getattr(exc, "how", "interrupted")
            where = f"checkpoint written to {self.out_dir} — continue with --resume" if self.out_dir and \
                self.writer else "no checkpoint (no run folder)"
            raise Interrupted(f"{how} at step {step}; {where}", getattr(exc, "exit_code", 130)) from None
        except TrainingDiverged:
            for cb in self.callbacks:
                cb.on_end()
            raise
        self._save(model, optimizer, generator, step, seconds, curve)
        for cb in self.callbacks:
            cb.on_end()
        return TrainResult(steps=step, seconds=seconds, curve=curve, stopped_early=stopped_early)

    def _loss_fn(self, task: Task, model: nn.Module, plan: NumericsPlan):
        """The one-batch loss as the plan runs it: autocast for bf16, compiled (or not), bf16-backward's flag
        around the call. A compile failure under --compile auto falls back to eager with a warning."""
        precision = plan.precision

        def loss_terms(batch):
            with autocast_context(self.device, precision):  # bf16-backward's flag is set outside: see below
                return task.loss_terms(model, batch)

        if not plan.compile:
            return outside_compiled(loss_terms, precision)
        # cuda_graphs: validate() and check_device() made sure of CUDA and a compile that is not off
        compiled = compile_loss(loss_terms, cuda_graphs=plan.cuda_graphs, keep_sines=keeps_sines(self.device))
        eager = loss_terms if self.config.compile == "auto" else None
        return outside_compiled(eager_fallback(compiled, eager), precision)

    # ----------------------------------------------------------------- rows
    def _row(self, step: int, seconds: float, loss: Tensor | None, terms: dict[str, Tensor], lr=None) -> dict:
        row: dict[str, Any] = {"step": step, "seconds": round(seconds, 4), "loss": None, "metric": None}
        if loss is not None:
            row["loss"] = float(loss.detach())
        row["lr"] = lr
        if len(terms) > 1:
            row.update({f"loss_{k}": float(v.detach()) for k, v in terms.items()})
        return row

    def _eval_row(self, task, model, step, seconds, loss, terms, lr=None) -> dict:
        row = self._row(step, seconds, loss, terms, lr)
        was_training = model.training
        model.eval()
        metrics = task.evaluate(model)
        model.train(was_training)
        row["metric"] = float(metrics[task.metric])
        if row["loss"] is None:
            row["loss"] = metrics.get("loss")
        return row

    @staticmethod
    def _rate(curve: list[dict], step: int, seconds: float) -> float | None:
        if not curve:
            return None
        prev = curve[-1]
        dt = seconds - prev["seconds"]
        return (step - prev["step"]) / dt if dt > 0 else None

    def _emit(self, row: dict) -> None:
        for cb in self.callbacks:
            cb.on_log(row)

    def _divergence_message(self, step: int, value: float, last_good: int) -> str:
        kept = f"the checkpoint of step {last_good} is kept" if last_good > 0 else "no checkpoint was written yet"
        return (
            f"training diverged: the loss became {value} at step {step}; {kept}. "
            f"Try a lower --lr (now {self.config.lr:g}) or --clip-grad 1"
        )


def keeps_sines(device: torch.device) -> bool:
    """Whether a compiled loss on `device` keeps the forward pass's sines for the backward pass: on CPUs, where
    recomputing a sine costs more than storing it (`keeping_sines`); GPUs keep torch.compile's recomputation."""
    return device.type == "cpu"


def compile_loss(loss_terms, cuda_graphs: bool = False, keep_sines: bool = False):
    """`torch.compile` of a one-batch loss function; with `cuda_graphs`, in mode reduce-overhead (the loss and
    its backward replayed as CUDA graphs), each call marked as a new step; with `keep_sines` (for CPUs), the
    backward pass reuses the forward pass's sines and cosines (`keeping_sines`)."""
    mode = "reduce-overhead" if cuda_graphs else None
    compiled = kept_or_plain(loss_terms, mode) if keep_sines else torch.compile(loss_terms, mode=mode)
    if not cuda_graphs:
        return compiled

    def replayed(batch):
        # Each step is a new replay: tensors the previous step's graphs returned may be overwritten now.
        torch.compiler.cudagraph_mark_step_begin()
        return compiled(batch)

    return replayed


def kept_or_plain(loss_terms, mode: str | None = None):
    """`keeping_sines(loss_terms)` compiled as one graph (fullgraph); if torch.compile cannot trace it whole (a
    graph break, an older torch) or will not compile it again (its recompile limit, reached in a process that
    trains many different losses), the plain compiled loss from then on. A graph break would otherwise run the
    checkpoint region eagerly: only a recomputed forward pass there, and SAC refuses in-place ops."""
    import torch._dynamo.exc as dynamo_exc

    refusals = (dynamo_exc.Unsupported, getattr(dynamo_exc, "FailOnRecompileLimitHit", dynamo_exc.Unsupported))
    kept = torch.compile(keeping_sines(loss_terms), mode=mode, fullgraph=True)
    state: dict[str, Any] = {"fn": kept}

    def call(batch):
        if state["fn"] is kept:
            try:
                return kept(batch)
            except refusals:
                state["fn"] = torch.compile(loss_terms, mode=mode)
        return state["fn"](batch)

    return call


class _QuietSelectiveCheckpointNote(logging.Filter):
    """Drops torch's note that a `context_fn` was passed to checkpoint under torch.compile (it asks to keep
    in-place ops out of the region). `kept_or_plain` traces the region as one functionalised graph, where the
    in-place ops inside torch's own functions (cosine_similarity) are rewritten; the gradients match the plain
    loss's (tests/train/test_trainer.py)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "context_fn is passed to torch.utils.checkpoint" not in record.getMessage()


def keeping_sines(loss_terms):
    """`loss_terms` run as a selective-checkpoint region whose sin and cos results must be saved for the
    backward pass. By default torch.compile keeps the pre-activation and recomputes sin and cos in the
    backward pass, which trades memory traffic for arithmetic: a good deal on a GPU, a bad one on a CPU, where
    a sine costs tens of cycles. Measured on 1 CPU thread (SDF step, 8,192 + 8,192 points, SIREN 256×3): 211 ms
    a step kept against 244 ms recomputed (benchmarks/kept_sines.py). Outside torch.compile the region is
    `loss_terms` itself, as it is on torch without selective checkpointing."""
    try:
        from torch.utils.checkpoint import CheckpointPolicy, checkpoint, create_selective_checkpoint_contexts
    except ImportError:  # pragma: no cover - torch < 2.4
        return loss_terms
    if not hasattr(torch.compiler, "is_compiling"):  # pragma: no cover - torch < 2.3
        return loss_terms
    keep = {torch.ops.aten.sin.default, torch.ops.aten.cos.default}

    def policy(ctx, op, *args, **kwargs):
        return CheckpointPolicy.MUST_SAVE if op in keep else CheckpointPolicy.PREFER_SAVE

    context = functools.partial(create_selective_checkpoint_contexts, policy)
    logging.getLogger("torch._higher_order_ops.wrap").addFilter(_QUIET_NOTE)

    def region(batch):
        if not torch.compiler.is_compiling():
            # torch.compile ran this frame eagerly (it gave up on it, e.g. at its recompile limit): there a
            # checkpoint would only recompute the forward pass, and trip over in-place ops inside torch's own
            # functions (cosine_similarity), so the plain loss runs instead.
            return loss_terms(batch)
        return checkpoint(loss_terms, batch, use_reentrant=False, context_fn=context)

    return region


_QUIET_NOTE = _QuietSelectiveCheckpointNote()


def compile_errors() -> tuple[type[BaseException], ...]:
    """The exceptions by which torch.compile says it could not build a graph's code (no C++ compiler, a
    backend failure), as opposed to an error in the loss itself."""
    import torch._dynamo.exc as dynamo_exc

    names = [(dynamo_exc, "BackendCompilerFailed")]
    try:
        import torch._inductor.exc as inductor_exc

        names += [(inductor_exc, "InductorError"), (inductor_exc, "CppCompileError")]
    except ImportError:  # pragma: no cover - older torch
        pass
    return tuple(getattr(module, name) for module, name in names if hasattr(module, name))


def eager_fallback(compiled, eager):
    """`compiled`, or `eager` from the first time compiling fails: a machine without a C++ compiler, or a
    torch.compile bug, then trains eagerly with one warning instead of stopping (`--compile auto`). Without an
    `eager` function (`--compile on`) the failure is a one-line UserError."""
    errors = compile_errors()
    state = {"failed": False}

    def call(batch):
        if state["failed"]:
            return eager(batch)
        try:
            return compiled(batch)
        except errors as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            if eager is None:
                raise UserError(f"torch.compile failed ({first}): use --compile off or auto") from None
            state["failed"] = True
            print(f"sirenkit: warning: torch.compile failed ({first}); training continues without it "
                  "(--compile off skips the attempt)", file=sys.stderr, flush=True)
            return eager(batch)

    return call


def numerics_plan(task: Task, model: nn.Module, config: TrainConfig, device: torch.device) -> NumericsPlan:
    """`plan_numerics` for `task`'s loss on `model`, as `config` asks: what the Trainer runs, the runner logs and
    the benchmark suite times."""
    return plan_numerics(task.loss_needs(model), device, model, config.precision, config.compile, config.cuda_graphs)


CURVE_FIELDS = ["step", "seconds", "loss", "metric", "lr", "it_per_s"]


def write_curve(path: Path, rows: list[dict[str, Any]]) -> None:
    """curve.csv: step, seconds, loss, metric, lr, it/s, then one column per loss term."""
    extra = sorted({k for row in rows for k in row} - set(CURVE_FIELDS))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CURVE_FIELDS + extra, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in CURVE_FIELDS + extra})
    write_text(path, buf.getvalue())


def read_curve(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    rows = []
    with open(path, newline="", encoding="utf-8") as f:
        for raw in csv.DictReader(f):
            row: dict[str, Any] = {}
            for key, text in raw.items():
                if text in ("", None):
                    row[key] = None
                elif key == "step":
                    row[key] = int(text)
                else:
                    row[key] = float(text)
            rows.append(row)
    return rows
