"""Self-attention for the encoder's reduced-precision copies on the CPU, padded to whole vectors.

PyTorch's CPU softmax handles the last, partial vector of each row slowly: over rows of 85 keys
(a news paragraph's length) a bf16 softmax takes about 1.8 times as long as over rows padded to
96, and the fused CPU attention kernel (`sdpa`) is slower still at these small shapes (12 heads
of 32). This attention pads the keys and values of each batch with zeros to a multiple of one
512-bit vector (32 bf16 or 16 fp32 numbers), masks the extra keys out with -inf, and runs two
batched matmuls around an in-place softmax: the same result to the precision's rounding, and
on an AVX-512 (Zen 4) CPU 4% more segments/s through the fine-tuned model at bf16 in `make
bench`, 10% over bare passes of the encoder (docs/experiment-log.md, twenty-seventh session).
It is inference only (the in-place softmax has no gradient); training keeps `sdpa`.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import AttentionInterface, PreTrainedModel
from transformers.masking_utils import AttentionMaskInterface

NAME = "lane_padded"
VECTOR_BYTES = 64  # one AVX-512 register; a multiple of AVX2's 32, so it pads there too


def padding_bias(batch_size: int, q_length: int, kv_length: int,
                 attention_mask: torch.Tensor | None = None, dtype=torch.float32, **_):
    """The tokenizer's (batch, keys) mask as a (batch, 1, 1, keys) additive bias: 0 on tokens,
    -inf on padding; None when no row is padded."""
    if attention_mask is None or bool(attention_mask.all()):
        return None
    bias = torch.zeros(attention_mask.shape, dtype=dtype, device=attention_mask.device)
    return bias.masked_fill_(~attention_mask.bool(), float("-inf"))[:, None, None, :]


def lane_padded_attention(module: nn.Module, query: torch.Tensor, key: torch.Tensor,
                          value: torch.Tensor, attention_mask: torch.Tensor | None,
                          scaling: float | None = None, dropout: float = 0.0, **_):
    """Softmax(q k^T * scaling + bias) v over keys padded to whole vectors; returns
    (batch, queries, heads, head size), as the transformers attention interface expects."""
    batch, heads, length, size = query.shape
    lanes = VECTOR_BYTES // query.element_size()
    width = -(-length // lanes) * lanes
    keys = key.new_zeros(batch, heads, width, size)
    keys[:, :, :length] = key
    values = value.new_zeros(batch, heads, width, size)
    values[:, :, :length] = value
    bias = query.new_full((batch, 1, 1, width), float("-inf"))
    bias[..., :length] = 0.0 if attention_mask is None else attention_mask
    scores = torch.baddbmm(bias.expand(batch, heads, 1, width).reshape(batch * heads, 1, width),
                           query.reshape(batch * heads, length, size),
                           keys.view(batch * heads, width, size).transpose(1, 2),
                           alpha=size ** -0.5 if scaling is None else scaling)
    torch.softmax(scores, -1, out=scores)
    out = torch.bmm(scores, values.view(batch * heads, width, size))
    return out.view(batch, heads, length, size).transpose(1, 2), None


AttentionInterface.register(NAME, lane_padded_attention)
AttentionMaskInterface.register(NAME, padding_bias)


def use_lane_padded_attention(module: nn.Module) -> nn.Module:
    """Switch every transformers model inside `module` (an inference copy) to this attention."""
    for part in module.modules():
        if isinstance(part, PreTrainedModel):
            part.set_attn_implementation(NAME)
    return module
