"""Trainer: schedules, resume equal to an uninterrupted run (with a real SIGKILL), checkpoints, divergence."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

import sirenkit
from sirenkit.errors import UserError
from sirenkit.train.checkpoint import CHECKPOINT, load_checkpoint
from sirenkit.train.schedule import lr_factor

from ..conftest import run_cli

ARGS = ["fit", "image", "--size", "40", "--batch-pixels", "256", "--hidden-features", "64", "--lr", "1e-3",
        "--schedule", "cosine", "--checkpoint-every", "25", "--eval-every", "5000", "--device", "cpu", "--quiet",
        "--no-figures"]
STEPS = "600"  # killed at step ≥ 100: the rest leaves a margin even on a loaded machine


def test_lr_schedules():
    assert lr_factor(10, 100, "constant") == 1.0
    assert lr_factor(0, 100, "cosine") == pytest.approx(1.0)
    assert lr_factor(50, 100, "cosine", final=0.0) == pytest.approx(0.5)
    assert lr_factor(100, 100, "cosine", final=0.1) == pytest.approx(0.1)
    assert lr_factor(4, 100, "cosine", warmup_steps=10) == pytest.approx(0.5)


def _model_tensors(run):
    return {k: v for k, v in load_file(str(run / CHECKPOINT)).items() if k.startswith("model.")}


def test_resume_after_sigkill_equals_uninterrupted_run(tmp_path):
    full = tmp_path / "full"
    proc = run_cli(*ARGS, "--steps", STEPS, "--out", str(full))
    assert proc.returncode == 0, proc.stderr

    killed = tmp_path / "killed"
    child = subprocess.Popen([sys.executable, "-m", "sirenkit", *ARGS, "--steps", STEPS, "--out", str(killed)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ))
    meta_path = killed / "checkpoint.json"
    deadline = time.time() + 300
    step = 0
    while time.time() < deadline and child.poll() is None:
        if meta_path.is_file():
            try:
                step = json.loads(meta_path.read_text())["step"]
            except (json.JSONDecodeError, KeyError):
                step = 0
            if step >= 100:
                break
        time.sleep(0.02)
    assert child.poll() is None, "the run finished before it could be killed; raise STEPS"
    child.send_signal(signal.SIGKILL)
    child.wait()
    _, record = load_checkpoint(killed)  # the checkpoint left by a SIGKILL is valid
    assert 100 <= record["step"] < int(STEPS)
    assert not (killed / "metrics.json").exists()

    resumed = run_cli("fit", "image", "--out", str(killed), "--resume", "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    a, b = _model_tensors(full), _model_tensors(killed)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    metrics = json.loads((killed / "metrics.json").read_text())
    assert metrics["steps"] == int(STEPS)


def test_resume_extends_a_finished_run(tmp_path):
    out = tmp_path / "run"
    assert run_cli(*ARGS, "--steps", "30", "--out", str(out)).returncode == 0
    proc = run_cli("fit", "image", "--out", str(out), "--resume", "--steps", "60", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert json.loads((out / "metrics.json").read_text())["steps"] == 60
    steps = [int(line.split(",")[0]) for line in (out / "curve.csv").read_text().splitlines()[1:]]
    assert steps == sorted(steps) and steps[-1] == 60


def test_damaged_checkpoints_are_refused_cleanly(tmp_path):
    out = tmp_path / "run"
    assert run_cli(*ARGS, "--steps", "5", "--out", str(out)).returncode == 0
    ckpt = out / CHECKPOINT
    data = ckpt.read_bytes()
    ckpt.write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match="damaged"):
        load_checkpoint(out)
    ckpt.write_bytes(b"\x80\x04\x95" + data[3:])  # a pickle opcode prefix: must not be unpickled
    with pytest.raises(UserError):
        load_checkpoint(out)
    proc = run_cli("render", str(out))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def test_divergence_is_reported_with_a_fix(tmp_path):
    proc = run_cli("fit", "image", "--size", "24", "--hidden-features", "16", "--steps", "50", "--lr", "1e30",
                   "--device", "cpu", "--quiet", "--out", str(tmp_path / "run"))
    assert proc.returncode == 2
    assert "diverged" in proc.stderr and "--lr" in proc.stderr and "Traceback" not in proc.stderr


def test_tensorboard_logging(tmp_path):
    pytest.importorskip("tensorboard")
    proc = run_cli(*ARGS, "--steps", "10", "--log-every", "5", "--tensorboard", "--out", str(tmp_path / "run"))
    assert proc.returncode == 0, proc.stderr
    events = list((tmp_path / "run" / "tensorboard").glob("events.*"))
    assert events and events[0].stat().st_size > 0


def _default_sigint() -> None:
    """In the child before exec: SIGINT back to its default, so that Python installs its Ctrl-C handler. A
    shell starts background jobs with SIGINT ignored, and a child inherits that (a suite run with `&`)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_writes_a_checkpoint_and_resume_continues(tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "sirenkit", "fit", "image", "--size", "32", "--hidden-features", "16",
           "--steps", "1000000", "--checkpoint-every", "0", "--eval-every", "1000000", "--device", "cpu",
           "--compile", "off", "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"}, preexec_fn=_default_sigint)
    try:
        seen = []
        for line in proc.stderr:  # the progress line of step 0: the training loop has started
            seen.append(line)
            if line.startswith("step 0/"):
                break
        assert seen and seen[-1].startswith("step 0/"), "".join(seen)
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        _, rest = proc.communicate(timeout=120)
    finally:
        proc.kill()
    stderr = "".join(seen) + rest
    assert proc.returncode == 130, stderr
    assert "--resume" in stderr and "Traceback" not in stderr
    _, record = load_checkpoint(out)  # valid, and written at the step that was interrupted
    step = record["step"]
    assert step > 0
    resumed = run_cli("fit", "image", "--out", str(out), "--resume", "--steps", str(step + 10), "--quiet",
                      "--compile", "off")
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads((out / "metrics.json").read_text())["steps"] == step + 10


def test_divergence_keeps_the_last_good_checkpoint(tmp_path):
    out = tmp_path / "run"
    proc = run_cli("fit", "image", "--size", "24", "--hidden-features", "16", "--steps", "50", "--lr", "1e30",
                   "--checkpoint-every", "1", "--device", "cpu", "--quiet", "--out", str(out))
    assert proc.returncode == 2 and "diverged" in proc.stderr and "Traceback" not in proc.stderr
    tensors, record = load_checkpoint(out)
    assert 0 < record["step"] < 50
    assert f"checkpoint of step {record['step']} is kept" in proc.stderr or "last checkpoint is kept" in proc.stderr
    assert all(bool(torch.isfinite(t).all()) for t in tensors.values() if t.is_floating_point())
    assert not (out / "metrics.json").exists()  # a diverged run does not pretend to have finished


def test_cuda_graph_step_runs_like_the_plain_compiled_step(monkeypatch):
    """--cuda-graphs plans a compiled loss replayed as graphs (torch.compile mode reduce-overhead, each step
    marked). Without CUDA, torch.compile skips the graph capture, so on a CPU this checks the numbers of
    `compile_loss` with graphs against the plain compiled loss, not its speed."""
    from sirenkit import Siren
    from sirenkit.tasks.image import ImageConfig, ImageTask
    from sirenkit.train.trainer import TrainConfig, Trainer, compile_loss

    monkeypatch.setattr(TrainConfig, "check_device", lambda self, device: None)
    cpu = torch.device("cpu")
    task = ImageTask(ImageConfig(size=12), cpu)
    batch = task.batch(0, torch.Generator().manual_seed(0))
    values = {}
    for graphs in (False, True):
        torch.manual_seed(0)
        model = Siren(2, 1, hidden_features=8, hidden_layers=1)
        plan = Trainer(TrainConfig(compile="auto", cuda_graphs=graphs, precision="fp32"), cpu).plan(task, model)
        assert plan.compile == graphs and plan.cuda_graphs == graphs  # fp32 on a CPU: compiled only for graphs
        loss_fn = compile_loss(lambda b, m=model: task.loss_terms(m, b), cuda_graphs=graphs)
        values[graphs] = [float(loss_fn(batch)["mse"].detach()) for _ in range(2)]
    assert values[True] == pytest.approx(values[False], rel=1e-6)


def test_cuda_graphs_need_cuda_and_compile():
    from sirenkit.train.trainer import TrainConfig

    with pytest.raises(UserError, match="use --compile on or auto"):
        TrainConfig(cuda_graphs=True, compile="off").validate()
    with pytest.raises(UserError, match="needs a CUDA device"):
        TrainConfig(cuda_graphs=True).check_device(torch.device("cpu"))


@pytest.mark.parametrize("compile_mode", ["auto", "on"])
def test_a_failing_compiler_falls_back_to_eager_or_says_so(tmp_path, compile_mode):
    """Without a working C++ compiler inductor cannot build CPU kernels. `--compile auto` then trains eagerly
    with one warning; `--compile on` stops with one line and exit code 2."""
    env = {**os.environ, "CXX": str(tmp_path / "no-such-c++"), "TORCHINDUCTOR_CACHE_DIR": str(tmp_path / "cache"),
           "TORCHINDUCTOR_FX_GRAPH_CACHE": "0"}
    out = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "sirenkit", "poisson", "gradient", "--size", "16", "--steps", "3",
         "--hidden-features", "8", "--hidden-layers", "1", "--device", "cpu", "--quiet", "--no-figures",
         "--compile", compile_mode, "--out", str(out)],  # a closed-form loss: auto compiles it on a CPU
        capture_output=True, text=True, timeout=300, env=env)
    # torch's CUDA builds on a machine without CUDA print one line of their own when inductor loads (seen on 2.3)
    err = [line for line in proc.stderr.splitlines() if line.strip() and not line.startswith("No CUDA runtime")]
    if compile_mode == "auto":
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert len(err) == 1 and err[0].startswith("sirenkit: warning: torch.compile failed"), err
        assert json.loads((out / "metrics.json").read_text())["steps"] == 3
    else:
        assert proc.returncode == 2, proc.stderr[-2000:]
        assert len(err) == 1 and "torch.compile failed" in err[0] and "use --compile off" in err[0], err


def _parameter_gradients(model, loss_terms, x):
    """All parameter gradients of the summed loss terms at x, flattened."""
    model.zero_grad(set_to_none=True)
    sum(loss_terms(x).values()).backward()
    return torch.cat([p.grad.flatten() for p in model.parameters()])


def _count_backward_sines(fn, *args) -> int:
    """Compile `fn` with inductor's partitioner (min-cut rematerialisation) and count the sin and cos nodes
    that end up in the backward graph."""
    from torch._dynamo.backends.common import aot_autograd
    from torch._functorch.aot_autograd import make_boxed_func
    from torch._functorch.partitioners import min_cut_rematerialization_partition

    found = {"backward": 0, "graphs": 0}

    def forward_compiler(gm, example_inputs):
        return make_boxed_func(gm.forward)

    def backward_compiler(gm, example_inputs):
        targets = (torch.ops.aten.sin.default, torch.ops.aten.cos.default)
        found["graphs"] += 1
        found["backward"] += sum(node.target in targets for node in gm.graph.nodes)
        return make_boxed_func(gm.forward)

    backend = aot_autograd(fw_compiler=forward_compiler, bw_compiler=backward_compiler,
                           partition_fn=min_cut_rematerialization_partition)
    torch._dynamo.reset()
    out = torch.compile(fn, backend=backend)(*args)
    sum(out.values()).backward()
    assert found["graphs"] == 1  # compiled as one graph, not run eagerly
    return found["backward"]


def test_keeping_sines_saves_them_for_the_backward_pass_and_changes_no_number():
    """On a CPU the compiled loss keeps the forward pass's sines and cosines instead of recomputing them in the
    backward pass; the gradients stay those of the plain loss."""
    from sirenkit import Siren
    from sirenkit.diff import derivatives
    from sirenkit.tasks.sdf import SdfConfig, sdf_loss
    from sirenkit.train.trainer import compile_loss, keeping_sines

    torch.manual_seed(0)
    model = Siren(3, 1, hidden_features=32, hidden_layers=2)
    x = torch.rand(256, 3) * 2 - 1

    normals = torch.nn.functional.normalize(torch.randn(128, 3), dim=-1)
    config = SdfConfig()  # built outside: torch < 2.5 cannot trace a dataclass's construction

    def loss_terms(batch):  # the SDF's loss: cosine_similarity has in-place ops inside
        d = derivatives(model, batch, order=1, backend="reverse")
        return sdf_loss(d.value[:, 0], d.gradient[:, 0, :], normals, config)

    def grads(fn):
        return _parameter_gradients(model, fn, x)

    exact = grads(loss_terms)
    # Run eagerly (as when torch.compile gives up on the frame) the region is the plain loss.
    assert torch.equal(grads(keeping_sines(loss_terms)), exact)
    compiled = grads(compile_loss(loss_terms, keep_sines=True))
    assert ((compiled - exact).norm() / exact.norm()).item() < 1e-5  # compiled rounding differs, no more
    assert _count_backward_sines(loss_terms, x) > 0  # torch.compile's default: recompute them
    if not hasattr(torch.utils.checkpoint, "create_selective_checkpoint_contexts"):
        pytest.skip(f"torch {torch.__version__} has no selective checkpointing: sines are recomputed there")
    assert _count_backward_sines(keeping_sines(loss_terms), x) == 0


def test_kept_sines_fall_back_to_the_plain_compiled_loss_at_a_graph_break():
    """A loss torch.compile cannot trace whole would run the checkpoint region eagerly, where SAC refuses the
    in-place ops inside cosine_similarity; `kept_or_plain` compiles the plain loss instead."""
    from sirenkit import Siren
    from sirenkit.diff import derivatives
    from sirenkit.tasks.sdf import SdfConfig, sdf_loss
    from sirenkit.train.trainer import compile_loss

    torch.manual_seed(0)
    model = Siren(3, 1, hidden_features=16, hidden_layers=1)
    x = torch.rand(64, 3) * 2 - 1
    normals = torch.nn.functional.normalize(torch.randn(32, 3), dim=-1)

    def loss_terms(batch):
        d = derivatives(model, batch, order=1, backend="reverse")
        torch._dynamo.graph_break()
        return sdf_loss(d.value[:, 0], d.gradient[:, 0, :], normals, SdfConfig())

    def grads(fn):
        return _parameter_gradients(model, fn, x)

    exact = grads(loss_terms)
    fn = compile_loss(loss_terms, keep_sines=True)
    for _ in range(2):
        assert ((grads(fn) - exact).norm() / exact.norm()).item() < 1e-5


def test_kept_sines_fall_back_at_the_recompile_limit():
    """A process that trains many different losses reaches torch.compile's recompile limit for the shared
    region; with fullgraph that is an error, so the plain compiled loss takes over."""
    from sirenkit import Siren
    from sirenkit.train.trainer import compile_loss

    torch._dynamo.reset()
    limit = "recompile_limit" if hasattr(torch._dynamo.config, "recompile_limit") else "cache_size_limit"  # < 2.6
    with torch._dynamo.config.patch(**{limit: 1}):
        for width in (8, 12, 16):  # new shapes: a recompilation each
            torch.manual_seed(0)
            model = Siren(2, 1, hidden_features=width, hidden_layers=1)
            x = torch.rand(32, 2)

            def loss_terms(batch, model=model):
                return {"mse": model(batch).square().mean()}

            exact = _parameter_gradients(model, loss_terms, x)
            got = _parameter_gradients(model, compile_loss(loss_terms, keep_sines=True), x)
            assert torch.allclose(got, exact, rtol=1e-5, atol=1e-7)
    torch._dynamo.reset()


def test_tf32_only_where_the_task_allows_it(monkeypatch):
    """CUDA runs use TF32 matmuls for tasks that take bf16 (or measured TF32 harmless), never for the SDF (its
    surface distance was 24–26 % worse with TF32 emulated) and never under --precision fp32; CPU runs never.
    The plan decides it for the Trainer, the runner's log line and metrics.json alike."""
    from sirenkit.models.numerics import plan_numerics
    from sirenkit.tasks import REGISTRY

    cpu = torch.device("cpu")
    image = REGISTRY["image"](REGISTRY["image"].Config(size=16), cpu)
    sdf = REGISTRY["sdf"](REGISTRY["sdf"].Config(shape="sphere", surface_samples=500), cpu)
    net = sirenkit.Siren(2, 1, hidden_features=8, hidden_layers=1)

    def tf32(device: str, precision: str, task) -> bool:
        return plan_numerics(task.loss_needs(net), torch.device(device), net, precision, compile="off").tf32

    monkeypatch.setattr("sirenkit.models.numerics.tf32_hardware", lambda device: device.type == "cuda")  # Ampere on
    assert tf32("cuda", "auto", image) and tf32("cuda", "bf16", image)
    assert not tf32("cuda", "fp32", image)
    assert not tf32("cuda", "auto", sdf) and not tf32("cpu", "auto", image)
    monkeypatch.setattr("sirenkit.models.numerics.tf32_hardware", lambda device: False)  # a V100 or T4
    assert not tf32("cuda", "auto", image)


def test_with_tf32_restores_the_matmul_precision_even_after_an_error():
    from sirenkit.bench.suite import with_tf32

    before = torch.get_float32_matmul_precision()
    seen = []

    def step() -> None:
        seen.append(torch.get_float32_matmul_precision())
        raise RuntimeError("step failed")

    with pytest.raises(RuntimeError):
        with_tf32(step)()
    assert seen == ["high"] and torch.get_float32_matmul_precision() == before


@pytest.mark.parametrize("damage", ["no-generator-state", "short-torch-state", "step-not-a-number", "negative-step"])
def test_resume_of_an_edited_checkpoint_is_one_clear_error(tmp_path, damage):
    """Random-generator state or a step count that torch cannot take: a UserError naming the run, and the run
    folder left as it was (before, a KeyError, RuntimeError or ValueError traceback)."""
    import json

    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    import sirenkit

    out = tmp_path / "run"
    sirenkit.fit("image", size=16, hidden_features=8, steps=3, device="cpu", quiet=True, out=str(out))
    ckpt = out / CHECKPOINT
    tensors = load_file(str(ckpt))
    with safe_open(str(ckpt), framework="pt") as f:
        header = f.metadata()
    record = json.loads(header["meta"])
    if damage == "no-generator-state":
        del tensors["rng.generator"]
    elif damage == "short-torch-state":
        tensors["rng.torch"] = tensors["rng.torch"][:10].clone()
    else:
        record["step"] = "x" if damage == "step-not-a-number" else -4
    save_file(tensors, str(ckpt), metadata={**header, "meta": json.dumps(record)})
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    with pytest.raises(UserError, match="cannot be resumed"):
        sirenkit.fit("image", size=16, hidden_features=8, steps=6, device="cpu", quiet=True, out=str(out),
                     resume=True)
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before
