"""oneDNN linear layers, bias and GELU fused in, for the encoder's inference copies on the CPU.

PyTorch's CPU `nn.Linear` first copies its bias into every row of the output and multiplies into
it; the feed-forward block's GELU is then one more pass over a (tokens x 1536) matrix. oneDNN's
linear primitive (the one `torch.compile` lowers to on the CPU, here without compiling) adds the
bias and applies the GELU while the product is still in cache, from a weight laid out once for
its kernels. Measured on the bare encoder over 1,024 coverage segments (2 threads, AVX-512 BF16
Zen 4, alternating passes, docs/experiment-log.md): bf16 207 -> 236 segments/s (+14%), fp32
112 -> 126 (+12%), fp32 with oneDNN and MKL held to AVX2 108 -> 113 (+4.5%); the hidden states
equal the plain layers' to the precision's rounding. Inference only: the packed weights have no
gradient, and the live network that training updates keeps its `nn.Linear`s.
"""

from __future__ import annotations

import functools
import logging

import torch
from torch import nn
from transformers.activations import GELUActivation

log = logging.getLogger(__name__)


class FusedLinear(nn.Module):
    """`linear`'s weight packed once for oneDNN; `activation` "none" or "gelu" (exact, erf)."""

    def __init__(self, linear: nn.Linear, activation: str = "none"):
        super().__init__()
        self.activation = activation
        self.register_buffer("packed_weight",
                             torch.ops.mkldnn._reorder_linear_weight(linear.weight.detach()))
        self.register_buffer("bias", None if linear.bias is None else linear.bias.detach().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.mkldnn._linear_pointwise(
            x, self.packed_weight, self.bias, self.activation, [],
            "none" if self.activation == "gelu" else "")


@functools.cache
def fused_linear_supported(dtype: torch.dtype) -> bool:
    """Whether this PyTorch and CPU run oneDNN's linear at `dtype` (bf16 needs AVX-512 BW/VL/DQ
    or AVX-NE-CONVERT; where it does not, PyTorch refuses to pack the weight). Probed once per
    process."""
    try:
        weight = torch.ones(8, 8, dtype=dtype)
        packed = torch.ops.mkldnn._reorder_linear_weight(weight)
        torch.ops.mkldnn._linear_pointwise(torch.ones(2, 8, dtype=dtype), packed, None,
                                           "none", [], "")
        return True
    except (AttributeError, RuntimeError) as error:
        log.info("oneDNN linear at %s unavailable here (%s): plain nn.Linear", dtype,
                 str(error).splitlines()[0])
        return False


def use_fused_linear(module: nn.Module) -> nn.Module:
    """Swap every `nn.Linear` inside `module` (an inference copy on the CPU, fp32 or bf16) for a
    `FusedLinear`, with the GELU of a BERT-style feed-forward block (`dense` then
    `intermediate_act_fn`) folded into its `dense`; `module` unchanged where not supported."""
    dtype = next(module.parameters()).dtype
    if not fused_linear_supported(dtype):
        return module
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.Linear):
                setattr(parent, name, FusedLinear(child))
        activation = getattr(parent, "intermediate_act_fn", None)
        dense = getattr(parent, "dense", None)
        if (type(activation) is GELUActivation and activation.act is nn.functional.gelu
                and isinstance(dense, FusedLinear)):
            dense.activation = "gelu"
            parent.intermediate_act_fn = nn.Identity()
    return module


class InPlaceGELU(nn.Module):
    """The exact (erf) GELU written over its input. A fresh (tokens x 1536) fp32 output is larger
    than glibc's largest mmap threshold (32 MB), so out of place every call maps new pages and
    faults them in: 14.3 against 2.5 ms for a batch of 64 segments on 2 threads (Zen 4). Only for
    the feed-forward block of an inference copy, whose `dense` output nothing else reads."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.aten.gelu_(x)


def use_in_place_gelu(module: nn.Module) -> nn.Module:
    """Swap the feed-forward GELU that `use_fused_linear` did not fold into its `dense` (int8
    copies, whose quantized layers have no fused activation, or where oneDNN cannot run the
    precision) for `InPlaceGELU`."""
    for parent in module.modules():
        activation = getattr(parent, "intermediate_act_fn", None)
        if type(activation) is GELUActivation and activation.act is nn.functional.gelu:
            parent.intermediate_act_fn = InPlaceGELU()
    return module
