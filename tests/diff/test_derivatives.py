"""The derivative engine against independent references: closed forms, float64 autograd, finite differences."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import sirenkit
from sirenkit import ModelConfig, Siren, diff
from sirenkit.diff import derivatives, forward_derivatives
from sirenkit.models import ACTIVATIONS

from ..tolerances import REL_TOL, rel_err


def assert_compiled_matches_eager(net: nn.Module, loss_fn, x: torch.Tensor) -> None:
    """`loss_fn` compiled whole (fullgraph) gives the eager loss and parameter gradients (float64 tolerances)."""
    eager = loss_fn(x)
    eager.backward()
    eager_grads = [p.grad.clone() for p in net.parameters()]
    net.zero_grad()
    compiled = torch.compile(loss_fn, fullgraph=True)(x)
    compiled.backward()
    assert abs(compiled.item() - eager.item()) <= REL_TOL * abs(eager.item())
    for g, p in zip(eager_grads, net.parameters()):
        assert rel_err(p.grad, g) <= 1e-9


def parameter_gradients(net: nn.Module, x: torch.Tensor, loss_of, backends, **options) -> list[torch.Tensor]:
    """For each backend: d(loss_of(derivatives(net, x, backend, **options)))/d(params), flattened into one vector."""
    grads = []
    for backend in backends:
        net.zero_grad()
        loss_of(diff.derivatives(net, x, backend=backend, **options)).backward()
        grads.append(torch.cat([p.grad.flatten() for p in net.parameters()]))
    return grads


def baseline_network(activation: str, d: int, m: int, seed: int) -> nn.Module:
    """A small float64 network of `activation` (width 32, 2 hidden layers) with d inputs and m outputs."""
    torch.manual_seed(seed)
    config = ModelConfig(activation=activation, hidden_features=32, hidden_layers=2, rbf_centers=32)
    return config.build(d, m, 64).double()


def random_siren(d: int, m: int, seed: int = 0) -> Siren:
    torch.manual_seed(seed)
    return Siren(d, m, hidden_features=48, hidden_layers=3).double()


@pytest.mark.parametrize("d", [1, 2, 3])
@pytest.mark.parametrize("m", [1, 2, 3])
def test_analytic_matches_autograd_float64(d, m):
    net = random_siren(d, m, seed=10 * d + m)
    x = torch.rand(64, d, dtype=torch.float64) * 2 - 1
    fwd = diff.forward_derivatives(net, x)
    ref = diff.autograd_derivatives(net, x)
    assert fwd.value.shape == (64, m) and fwd.gradient.shape == (64, m, d) and fwd.laplacian.shape == (64, m)
    assert fwd.hessian_diagonal is None and ref.hessian_diagonal is None
    for a, b in zip(fwd[:3], ref[:3]):
        assert rel_err(a, b) <= REL_TOL


@pytest.mark.parametrize("d", [1, 2, 3])
@pytest.mark.parametrize("m", [1, 2])
def test_per_axis_second_derivatives_match_autograd(d, m):
    """per_axis=True: d second-derivative streams give the Hessian diagonal; its sum is the Laplacian."""
    net = random_siren(d, m, seed=3 * d + m)
    x = torch.rand(48, d, dtype=torch.float64) * 2 - 1
    fwd = diff.forward_derivatives(net, x, per_axis=True)
    ref = diff.autograd_derivatives(net, x, per_axis=True)
    assert fwd.hessian_diagonal.shape == (48, m, d)
    for a, b in zip(fwd, ref):
        assert rel_err(a, b) <= REL_TOL
    assert rel_err(fwd.laplacian, diff.forward_derivatives(net, x).laplacian) <= REL_TOL
    # A loss on the per-axis terms (weighted differently, as a PML does) trains the same on both paths.
    weights = torch.linspace(0.5, 2.0, d, dtype=torch.float64)

    def loss_of(out):
        return ((out.hessian_diagonal * weights).sum(-1) ** 2).mean() + (out.value**2).mean()

    grads = parameter_gradients(net, x, loss_of, ("analytic", "autograd"), per_axis=True)
    assert rel_err(grads[0], grads[1]) <= REL_TOL


@pytest.mark.parametrize("d", [1, 2, 3])
@pytest.mark.parametrize("m", [1, 3])
def test_parameter_gradients_of_derivative_losses_agree(d, m):
    """A loss on value, gradient and Laplacian: d(loss)/d(params) is the same on both paths."""
    net = random_siren(d, m, seed=d + 7 * m)
    x = torch.rand(32, d, dtype=torch.float64) * 2 - 1
    def loss_of(out):
        return (out.value**2).mean() + (out.gradient**2).mean() + 1e-3 * (out.laplacian**2).mean()

    grads = parameter_gradients(net, x, loss_of, ("analytic", "autograd"))
    assert rel_err(grads[0], grads[1]) <= REL_TOL


@pytest.mark.parametrize("activation", [a for a in ACTIVATIONS if a not in ("sine", "wire", "grid")])
def test_analytic_path_covers_baselines(activation):
    net = baseline_network(activation, 2, 2, seed=3)
    x = torch.rand(40, 2, dtype=torch.float64) * 2 - 1
    for a, b in zip(diff.forward_derivatives(net, x)[:3], diff.autograd_derivatives(net, x)[:3]):
        assert rel_err(a, b) <= 1e-9
    fwd = diff.forward_derivatives(net, x, per_axis=True).hessian_diagonal
    assert rel_err(fwd, diff.autograd_derivatives(net, x, per_axis=True).hessian_diagonal) <= 1e-9


def test_closed_form_single_sine():
    """Φ(x) = sin(ω0 (w x + b)) read out with weight 1: Φ' = ω0 w cos(·), Φ'' = −(ω0 w)² sin(·)."""
    net = Siren(1, 1, hidden_features=1, hidden_layers=0, first_omega_0=5.0).double()
    with torch.no_grad():
        net.layers[0].weight.fill_(0.7)
        net.layers[0].bias.fill_(0.1)
        net.head.weight.fill_(1.0)
        net.head.bias.fill_(0.0)
    x = torch.linspace(-1, 1, 50, dtype=torch.float64).unsqueeze(-1)
    z = 5.0 * (0.7 * x + 0.1)
    for backend in ("analytic", "autograd"):
        out = diff.derivatives(net, x, backend=backend)
        torch.testing.assert_close(out.value, torch.sin(z))
        torch.testing.assert_close(out.gradient[:, 0, :], 3.5 * torch.cos(z))
        torch.testing.assert_close(out.laplacian, -(3.5**2) * torch.sin(z))


class Quadratic(nn.Module):
    """f(x) = Σ a_k x_k² + c·x: gradient 2 a ⊙ x + c, Laplacian 2 Σ a_k."""

    def __init__(self, a, c):
        super().__init__()
        self.a = torch.tensor(a, dtype=torch.float64)
        self.c = torch.tensor(c, dtype=torch.float64)

    def forward(self, x):
        return ((self.a * x * x).sum(-1) + (self.c * x).sum(-1)).unsqueeze(-1)


def test_autograd_helpers_on_quadratic():
    f = Quadratic([1.0, -2.0, 0.5], [0.3, 0.0, -1.0])
    x = (torch.rand(20, 3, dtype=torch.float64) * 2 - 1).requires_grad_(True)
    y = f(x)
    torch.testing.assert_close(diff.gradient(y, x), 2 * f.a * x + f.c)
    torch.testing.assert_close(diff.laplacian(y, x), torch.full((20, 1), 2 * (1.0 - 2.0 + 0.5), dtype=torch.float64))
    torch.testing.assert_close(diff.hessian(y, x), torch.diag(2 * f.a).expand(20, 3, 3))
    torch.testing.assert_close(diff.jacobian(y, x)[:, 0], 2 * f.a * x + f.c)
    field = 2 * f.a * x + f.c
    torch.testing.assert_close(diff.divergence(field, x), torch.full((20,), 2 * (1.0 - 2.0 + 0.5), dtype=torch.float64))
    out = diff.derivatives(f, x.detach(), backend="auto")  # no forward mode for this model: autograd
    torch.testing.assert_close(out.laplacian, torch.full((20, 1), -1.0, dtype=torch.float64))


def test_finite_differences():
    net = random_siren(2, 1, seed=5)
    x = torch.rand(16, 2, dtype=torch.float64) * 2 - 1
    out = diff.forward_derivatives(net, x)
    h = 1e-4
    lap_fd = torch.zeros(16, 1, dtype=torch.float64)
    with torch.no_grad():
        for k in range(2):
            e = torch.zeros(2, dtype=torch.float64)
            e[k] = h
            plus, minus, centre = net(x + e), net(x - e), net(x)
            lap_fd += (plus - 2 * centre + minus) / h**2
            g = 1e-6  # smaller step for first differences: truncation error ~ g² Φ'''
            e[k] = g
            central = (net(x + e) - net(x - e)) / (2 * g)
            assert rel_err(central, out.gradient[:, 0, k : k + 1]) < 1e-7
    assert rel_err(lap_fd, out.laplacian) < 1e-4


def test_hessian_trace_is_laplacian():
    net = random_siren(3, 1, seed=9)
    x = (torch.rand(10, 3, dtype=torch.float64) * 2 - 1).requires_grad_(True)
    hess = diff.hessian(net(x), x)
    lap = diff.forward_derivatives(net, x.detach()).laplacian
    assert rel_err(torch.diagonal(hess, dim1=-2, dim2=-1).sum(-1, keepdim=True), lap) <= REL_TOL


def test_order_one_skips_laplacian():
    net = random_siren(2, 1)
    x = torch.rand(8, 2, dtype=torch.float64)
    out = diff.derivatives(net, x, order=1, backend="analytic")
    assert out.laplacian is None
    torch.testing.assert_close(out.gradient, diff.forward_derivatives(net, x).gradient)


def test_backend_choice():
    net = random_siren(2, 1)
    assert diff.supports_forward_mode(net)
    assert not diff.supports_forward_mode(Quadratic([1.0, 1.0], [0.0, 0.0]))
    with pytest.raises(TypeError):
        diff.forward_derivatives(Quadratic([1.0, 1.0], [0.0, 0.0]), torch.zeros(2, 2, dtype=torch.float64))
    with pytest.raises(ValueError):
        diff.derivatives(net, torch.zeros(2, 2, dtype=torch.float64), backend="magic")


def test_analytic_path_under_torch_compile():
    """The forward-mode streams compile (no double backward to block torch.compile) and agree in float64."""
    torch._dynamo.reset()
    net = random_siren(2, 1, seed=2)
    x = torch.rand(128, 2, dtype=torch.float64) * 2 - 1

    def loss_fn(inp):
        out = diff.forward_derivatives(net, inp)
        return (out.value**2).mean() + (out.gradient**2).mean() + 1e-3 * (out.laplacian**2).mean()

    assert_compiled_matches_eager(net, loss_fn, x)


def test_float32_agreement_is_at_float32_precision():
    torch.manual_seed(0)
    net = Siren(2, 1)
    x = torch.rand(256, 2) * 2 - 1
    fwd, ref = diff.forward_derivatives(net, x), diff.autograd_derivatives(net, x)
    assert rel_err(fwd.gradient, ref.gradient) < 1e-4
    assert rel_err(fwd.laplacian, ref.laplacian) < 1e-3
    assert math.isfinite(fwd.laplacian.abs().max().item())


@pytest.mark.parametrize("backend", ["analytic", "autograd", "fused", "auto"])
def test_coordinates_of_any_leading_shape_equal_the_flattened_ones(backend):
    """(..., d) in, (..., m), (..., m, d), (..., m) out, equal to the flattened call to float64 precision."""
    torch.manual_seed(0)
    model = sirenkit.Siren(2, 3, hidden_features=16, hidden_layers=2).double()
    x = torch.rand(4, 8, 8, 2, dtype=torch.float64) * 2 - 1
    shaped = derivatives(model, x, backend=backend)
    flat = derivatives(model, x.reshape(-1, 2), backend=backend)
    assert shaped.value.shape == (4, 8, 8, 3) and shaped.gradient.shape == (4, 8, 8, 3, 2)
    assert shaped.laplacian is not None and shaped.laplacian.shape == (4, 8, 8, 3)
    for a, b in zip(shaped, flat):
        if a is not None:
            torch.testing.assert_close(a.reshape(b.shape), b, rtol=1e-12, atol=1e-12)
    one = forward_derivatives(model, x[0, 0, 0])  # a single point (d,): (m,), (m, d), (m,)
    assert one.value.shape == (3,) and one.gradient.shape == (3, 2)
    torch.testing.assert_close(one.gradient, flat.gradient[0], rtol=1e-12, atol=1e-12)


def test_reverse_sweep_and_per_axis_keep_the_leading_shape():
    torch.manual_seed(0)
    model = sirenkit.Siren(3, 1, hidden_features=16, hidden_layers=1).double()
    x = torch.rand(5, 7, 3, dtype=torch.float64) * 2 - 1
    rev = derivatives(model, x, order=1, backend="reverse")
    assert rev.gradient.shape == (5, 7, 1, 3)
    torch.testing.assert_close(rev.gradient, derivatives(model, x, order=1, backend="autograd").gradient)
    axis = derivatives(model, x, backend="analytic", per_axis=True)
    assert axis.hessian_diagonal is not None and axis.hessian_diagonal.shape == (5, 7, 1, 3)


@pytest.mark.parametrize("bad, message", [
    (torch.tensor(0.5), "shape \\(..., d\\)"),
    (torch.zeros(4, 0), "shape \\(..., d\\)"),
    (torch.zeros(4, 3), "3 features in their last axis; the model takes 2"),
    (torch.zeros(4, 2, dtype=torch.int64), "floating point"),
])
def test_coordinates_no_engine_can_take_get_one_line(bad, message):
    model = sirenkit.Siren(2, 1, hidden_features=8, hidden_layers=1)
    for backend in ("analytic", "autograd"):
        with pytest.raises(ValueError, match=message):
            derivatives(model, bad, backend=backend)


def test_derivatives_under_torch_func_vmap_over_parameters_and_jacrev():
    """`functional_derivatives` with stacked parameters under vmap equals each network's own derivatives; jacrev
    of a SIREN's output equals the engine's gradient, and jacrev of the engine's gradient gives the Hessian."""
    from torch.func import jacrev, stack_module_state, vmap

    from sirenkit.diff import functional_derivatives

    torch.manual_seed(0)
    nets = [Siren(2, 1, hidden_features=16, hidden_layers=1).double() for _ in range(3)]
    params, buffers = stack_module_state(nets)
    x = torch.rand(10, 2, dtype=torch.float64) * 2 - 1

    def laplacian_of(p, xs):
        return functional_derivatives(nets[0], p, xs).laplacian

    batched = vmap(laplacian_of, in_dims=(0, None))({**params, **buffers}, x)
    for i, net in enumerate(nets):
        torch.testing.assert_close(batched[i], derivatives(net, x).laplacian, rtol=1e-12, atol=1e-12)
    assert all(torch.equal(a, b) for a, b in zip(nets[0].parameters(), [params[k][0] for k in params]))
    jac = vmap(jacrev(nets[1]))(x)
    torch.testing.assert_close(jac, forward_derivatives(nets[1], x).gradient, rtol=1e-12, atol=1e-12)
    hess = vmap(jacrev(lambda xi: forward_derivatives(nets[1], xi).gradient))(x)  # (N, 1, 2, 2)
    trace = hess.diagonal(dim1=-2, dim2=-1).sum(-1)
    torch.testing.assert_close(trace, derivatives(nets[1], x).laplacian, rtol=1e-10, atol=1e-10)
