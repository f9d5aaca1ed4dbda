"""Fused SIREN derivative streams: agreement with autograd (float64), memory kept for backward, Triton kernels."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from sirenkit.diff import autograd_derivatives
from sirenkit.diff.forward import forward_derivatives
from sirenkit.diff.fused import fused_derivatives, streams_backward_torch, streams_forward_torch, supports_fused
from sirenkit.models import ModelConfig, Siren

from ..tolerances import rel_err


def _loss(d) -> torch.Tensor:
    """A loss on every output, nonlinear so that each stream's gradient matters."""
    out = (d.value**2).sum() + (d.gradient**3).sum()
    return out + (1e-2 * d.laplacian).pow(2).sum() if d.laplacian is not None else out


@pytest.mark.parametrize("d", [1, 2, 3])
@pytest.mark.parametrize("m", [1, 3])
@pytest.mark.parametrize("order", [1, 2])
def test_fused_equals_autograd_in_float64(d, m, order):
    torch.manual_seed(d * 10 + m)
    net = Siren(d, m, 32, 2, first_omega_0=30.0, hidden_omega_0=20.0).double()
    x = torch.rand(40, d, dtype=torch.float64) * 2 - 1
    ref = autograd_derivatives(net, x, order=order)
    got = fused_derivatives(net, x, order=order)
    assert rel_err(got.value, ref.value) <= 1e-10 and rel_err(got.gradient, ref.gradient) <= 1e-10
    if order == 2:
        assert rel_err(got.laplacian, ref.laplacian) <= 1e-10
    else:
        assert got.laplacian is None
    params = list(net.parameters())
    g_ref = torch.autograd.grad(_loss(ref), params)
    g_got = torch.autograd.grad(_loss(fused_derivatives(net, x, order=order)), params)
    for a, b in zip(g_got, g_ref):
        assert rel_err(a, b) <= 1e-10


def test_elementwise_backward_matches_autograd_of_the_forward():
    torch.manual_seed(3)
    for d, lap in [(2, False), (3, True)]:
        u = torch.randn(1 + d + int(lap), 7, 5, dtype=torch.float64, requires_grad=True)
        g = torch.randn(1 + d + int(lap), 7, 5, dtype=torch.float64)
        (expected,) = torch.autograd.grad(streams_forward_torch(u, 7.0, d, lap), u, g)
        assert rel_err(streams_backward_torch(u.detach(), g, 7.0, d, lap), expected) <= 1e-12


def test_only_sirens_are_fused():
    assert supports_fused(Siren(2, 1, 8, 1))
    for act in ("relu", "relu-pe", "tanh"):
        net = ModelConfig(activation=act, hidden_features=8, hidden_layers=1).build(2, 1, 16)
        assert not supports_fused(net)
        with pytest.raises(TypeError, match="SIREN"):
            fused_derivatives(net, torch.zeros(3, 2))


def _saved_megabytes(fn) -> float:
    """Bytes of the distinct storages autograd keeps for backward while `fn` builds its loss."""
    storages: dict[int, int] = {}

    def pack(t):
        storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        _loss(fn())
    return sum(storages.values()) / 2**20


def test_fused_keeps_a_fraction_of_the_memory_for_the_laplacian():
    """Measured at 4096 points, 256×3, d = 3 (distinct storages kept for backward): fused 81 MB, forward-mode
    201 MB, autograd 381 MB; first order only: fused 65 MB, forward-mode 145 MB, autograd 81 MB."""
    torch.manual_seed(0)
    net, x = Siren(3, 1, 256, 3), torch.rand(4096, 3) * 2 - 1
    fused = _saved_megabytes(lambda: fused_derivatives(net, x, 2))
    assert fused <= 0.45 * _saved_megabytes(lambda: forward_derivatives(net, x, 2))
    assert fused <= 0.25 * _saved_megabytes(lambda: autograd_derivatives(net, x, 2))


TRITON_CHECK = textwrap.dedent("""
    import torch
    from sirenkit.diff import triton_kernels as tk
    from sirenkit.diff.fused import fused_derivatives, streams_backward_torch, streams_forward_torch, triton_requested
    from sirenkit.diff import autograd_derivatives
    from sirenkit.models import Siren

    def rel(a, b):
        return float((a - b).abs().max() / b.abs().max())

    torch.manual_seed(0)
    for d in (1, 2, 3):
        for lap in (False, True):
            u, g = torch.randn(1 + d + lap, 37, 19), torch.randn(1 + d + lap, 37, 19)
            assert rel(tk.streams_forward(u, 30.0, d, lap), streams_forward_torch(u, 30.0, d, lap)) < 1e-6
            assert rel(tk.streams_backward(u, g, 30.0, d, lap), streams_backward_torch(u, g, 30.0, d, lap)) < 1e-6
    net, x = Siren(3, 1, 32, 2), torch.rand(64, 3) * 2 - 1
    assert triton_requested(x)
    got, ref = fused_derivatives(net, x, 2), autograd_derivatives(net, x, 2)
    for a, b in zip(got[:3], ref[:3]):
        assert rel(a, b) < 1e-5, rel(a, b)
    loss = lambda D: (D.value ** 2).sum() + (D.gradient ** 3).sum() + (1e-2 * D.laplacian).pow(2).sum()
    params = list(net.parameters())
    for a, b in zip(torch.autograd.grad(loss(got), params), torch.autograd.grad(loss(ref), params)):
        assert rel(a, b) < 1e-4, rel(a, b)
    print("ok")
""")


def test_triton_kernels_in_the_interpreter():
    """The Triton kernels, run by Triton's CPU interpreter, against the PyTorch formulas and autograd (float32)."""
    pytest.importorskip("triton", minversion="3.0",
                        reason="Triton ≥ 3.0 is not installed (pip install triton); kernels checked on GPU only")
    env = {**os.environ, "TRITON_INTERPRET": "1", "SIRENKIT_TRITON": "1", "OMP_NUM_THREADS": "1",
           "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    proc = subprocess.run([sys.executable, "-c", TRITON_CHECK], capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-3000:]


def test_derivatives_backend_fused():
    from sirenkit import diff

    torch.manual_seed(5)
    net, x = Siren(2, 1, 16, 1).double(), torch.rand(20, 2, dtype=torch.float64)
    got, ref = diff.derivatives(net, x, backend="fused"), diff.derivatives(net, x, backend="analytic")
    for a, b in zip(got[:3], ref[:3]):
        assert rel_err(a, b) <= 1e-12
    with pytest.raises(ValueError, match="per-axis"):
        diff.derivatives(net, x, backend="fused", per_axis=True)


def test_poisson_run_with_fused_equals_analytic(tmp_path):
    """The same seed and settings: a fused run ends where the forward-mode run ends (float32 round-off)."""
    import sirenkit

    opts = {"size": 24, "steps": 30, "hidden_features": 32, "lr": 1e-3, "device": "cpu", "quiet": True,
            "compile": "off"}
    fused = sirenkit.fit("poisson-laplacian", out=str(tmp_path / "f"), derivatives="fused", **opts)
    analytic = sirenkit.fit("poisson-laplacian", out=str(tmp_path / "a"), derivatives="analytic", **opts)
    assert abs(fused.metrics["psnr"] - analytic.metrics["psnr"]) < 0.05
    for a, b in zip(fused.model.parameters(), analytic.model.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-5)


def test_fused_is_refused_for_other_networks_before_anything_is_written(tmp_path, capsys):
    from sirenkit.cli import main

    out = tmp_path / "run"
    assert main(["poisson", "laplacian", "--activation", "relu", "--derivatives", "fused", "--size", "16",
                 "--steps", "2", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--derivatives fused needs a SIREN" in err[0] and not out.exists()
