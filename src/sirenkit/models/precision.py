"""Mixed precision for coordinate networks: bf16 matmuls in the hidden layers (`bf16`) or in the backward pass
only (`bf16-backward`), fp32 everywhere else.

Under `mixed_precision(device, "bf16")` (torch.autocast), `FieldMLP` does three things:
* It keeps its coordinate encoding and first layer in fp32. bf16 has 8 significant bits: a coordinate near 1
  would move by up to 2⁻⁹. With ω0 = 30 and initial first-layer weights of up to 1/2, that is a phase error of
  up to 0.03 rad, a quarter of the phase step between neighbouring pixels at 256².
* It runs the hidden and head matmuls in bf16.
* It upcasts every pre-activation to fp32 before the activation: sin of a bf16 argument near 4 would be off by
  up to 2⁻⁶.

Outputs are fp32.

Measured (benchmarks/RESULTS.md, "Mixed precision"): the same PSNR as fp32 on the cameraman at 41.9 dB in 1.75×
less time on an AMX CPU, but a ceiling of about 62 dB where fp32 memorises a 64² image to 143 dB. Which
precision a run uses is decided in models/numerics.py (`plan_numerics`), from what the task's loss was measured
to tolerate and the network's width.

`bf16-backward` (`backward_in_bf16`) leaves the forward pass, the derivative fields and the loss in fp32 and
runs only the products of the parameters' backward pass (∂L/∂h and ∂L/∂W of every hidden and head layer) in
bf16 with fp32 accumulation. Those products only steer Adam; the field that the loss measures is untouched, so
derivative losses that lose accuracy in `bf16` keep it. They are two thirds of a first-order step's products.
Where a backward pass is itself recorded (autograd derivatives with create_graph), it stays fp32.
"""

from __future__ import annotations

import contextlib
import functools
from typing import Literal

import torch
from torch import Tensor, nn

Precision = Literal["auto", "fp32", "bf16", "bf16-backward"]


def fast_bf16(device: torch.device) -> bool:
    """Whether `device` multiplies bf16 matrices faster than fp32: CUDA from Ampere (sm80) on, and CPUs with
    AMX or AVX512-BF16 (elsewhere bf16 is emulated and slower than fp32)."""
    if device.type == "cuda":
        return tf32_hardware(device)  # bf16 and TF32 tensor cores both arrive with Ampere
    if device.type == "cpu":
        cpu = getattr(torch, "cpu", None)
        checks = [getattr(cpu, name, None) for name in ("_is_amx_tile_supported", "_is_avx512_bf16_supported")]
        if any(callable(check) for check in checks):
            return any(bool(check()) for check in checks if callable(check))
        return bool(_cpuinfo_flags() & {"amx_bf16", "avx512_bf16"})  # torch < 2.4 has no such helpers
    return False


def _cpuinfo_flags() -> set[str]:
    """The CPU feature flags Linux reports in /proc/cpuinfo (empty elsewhere or when unreadable)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.partition(":")[2].split())
    except OSError:
        pass
    return set()


def tf32_hardware(device: torch.device) -> bool:
    """Whether `device` has TF32 (and fast bf16) matmuls: CUDA from Ampere (sm80) on."""
    return (device.type == "cuda" and torch.cuda.is_available()
            and torch.cuda.get_device_capability(device) >= (8, 0))


@functools.cache
def bf16_backward_compiles() -> bool:
    """Whether torch.compile traces the bf16-backward layer whole (torch 2.3 cannot: an autograd.Function with
    `setup_context`). Where it cannot, the compiled loss breaks around every layer: on torch 2.3.1 the SDF step
    (the suite's CPU size, 1 thread) then took 389 ms against 386 ms in fp32, with more memory, so `auto`
    keeps fp32 there. Probed once by tracing one layer (dynamo only, no code generation)."""
    def layer(x: Tensor, w: Tensor) -> Tensor:
        return _Bf16BackwardLinear.apply(x, w, None)

    x, w = torch.ones(2, 2, requires_grad=True), torch.ones(2, 2, requires_grad=True)
    try:
        torch.compile(layer, backend="eager", fullgraph=True)(x, w)
    except Exception:  # noqa: BLE001 - any refusal means the layer does not compile whole
        return False
    return True


def mixed_precision(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """The context of `precision` on `device`: autocast for bf16, `backward_in_bf16` for bf16-backward, a no-op
    context for fp32. Inside a function that torch.compile traces, use `autocast_context` there and enter
    `backward_in_bf16` around the compiled call (`outside_compiled`): older torch cannot trace it."""
    if precision == "bf16-backward":
        return backward_in_bf16()
    return autocast_context(device, precision)


def autocast_context(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """Autocast for bf16, else a no-op context (the part of `mixed_precision` that goes inside compiled code)."""
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def outside_compiled(fn, precision: str):
    """`fn` (possibly compiled) called inside `backward_in_bf16` for bf16-backward; `fn` itself otherwise. The flag
    is a module global that torch.compile guards on, so it may be set around a compiled call."""
    if precision != "bf16-backward":
        return fn

    def call(*args, **kwargs):
        with backward_in_bf16():
            return fn(*args, **kwargs)

    return call


_BACKWARD_BF16 = False  # set by `backward_in_bf16`; read by `dense` (torch.compile guards on its value)


@contextlib.contextmanager
def backward_in_bf16():
    """Inside, `dense` layers record a backward pass whose products run in bf16 (see the module docstring)."""
    global _BACKWARD_BF16
    before, _BACKWARD_BF16 = _BACKWARD_BF16, True
    try:
        yield
    finally:
        _BACKWARD_BF16 = before


def dense(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """x Wᵀ + b, with the backward pass in bf16 inside `backward_in_bf16` (fp32 inputs only)."""
    if _BACKWARD_BF16 and x.dtype == torch.float32 and torch.is_grad_enabled():
        return _Bf16BackwardLinear.apply(x, weight, bias)
    return nn.functional.linear(x, weight, bias)


def dense_layer(layer: nn.Linear, x: Tensor) -> Tensor:
    """`layer(x)` (hooks and all), or `dense` with its parameters inside `backward_in_bf16`."""
    if _BACKWARD_BF16:
        return dense(x, layer.weight, layer.bias)
    return layer(x)


class _Bf16BackwardLinear(torch.autograd.Function):
    """`linear` whose backward products take bf16 operands (fp32 accumulation and results); a backward pass that
    is being recorded for higher derivatives runs in the input's precision instead."""

    generate_vmap_rule = True  # ModelBank evaluates its members under torch.func.vmap

    @staticmethod
    def forward(x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        return nn.functional.linear(x, weight, bias)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        x, weight, bias = inputs
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None

    @staticmethod
    def backward(ctx, grad: Tensor):
        x, weight = ctx.saved_tensors
        low = grad.dtype if torch.is_grad_enabled() else torch.bfloat16
        g = grad.to(low)
        need_x, need_w, need_b = ctx.needs_input_grad
        grad_x = torch.matmul(g, weight.to(low)).to(x.dtype) if need_x else None
        grad_w = None
        if need_w:
            rows = g.reshape(-1, g.shape[-1])
            grad_w = torch.matmul(rows.t(), x.reshape(-1, x.shape[-1]).to(low)).to(weight.dtype)
        grad_b = grad.reshape(-1, grad.shape[-1]).sum(0) if ctx.has_bias and need_b else None
        return grad_x, grad_w, grad_b


def upcast(t: Tensor) -> Tensor:
    """`t` in fp32 when it is a half-precision tensor (autocast output), else `t` itself (fp32, fp64 kept)."""
    return t.float() if t.dtype in (torch.bfloat16, torch.float16) else t


# torch.is_autocast_enabled takes a device type from 2.4 on; 2.3 has one flag for CUDA and one for the CPU. Decided
# once here rather than by catching the TypeError, which torch.compile turns into an internal error when tracing.
_AUTOCAST_BY_DEVICE = tuple(int(p) for p in torch.__version__.split("+")[0].split(".")[:2]) >= (2, 4)


def autocast_enabled(device_type: str) -> bool:
    """Whether autocast is on for `device_type`."""
    if _AUTOCAST_BY_DEVICE:
        return bool(torch.is_autocast_enabled(device_type))
    return bool(torch.is_autocast_cpu_enabled() if device_type == "cpu" else torch.is_autocast_enabled())


def full_precision(device_type: str) -> contextlib.AbstractContextManager:
    """Suspend autocast inside (for coordinates and the first layer); a no-op context when autocast is off."""
    if autocast_enabled(device_type):
        return torch.autocast(device_type=device_type, enabled=False)
    return contextlib.nullcontext()
