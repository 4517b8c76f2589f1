"""The machine's limit: the fine-tuned encoder's arithmetic per segment, from its layer sizes and
the mean token count, against this CPU's measured matrix-multiply throughput at each precision.

FLOPs count multiply-adds as two. Per token and layer: the Q, K, V and output projections
(4 h^2 multiply-adds), the feed-forward pair (2 h i), and attention's scores and weighted sum
(2 t h for a sequence of t tokens). Embeddings, layer norms, softmax and the heads are left out:
they are a few percent. The peak is the best of a few runs of the encoder's own matmul shape
(the tokens of one inference batch x hidden, times hidden x intermediate): fp32 and bf16
through torch.matmul (MKL) and, where this CPU runs it, oneDNN's linear (the kernel the inference
copies run with `cpu_linear: fused`; on AMD CPUs MKL takes an AVX2 path, so oneDNN's fp32 is up
to 2.4 times faster there), the faster of the two; int8 through the dynamically quantized Linear
that `precision: int8` runs. Measured twice (after the inference rows and at the end of the run)
and the best kept. On a GPU, fp32 and bf16 are measured there (int8 runs on the CPU).
"""

import time
import warnings

import torch
from torch.profiler import ProfilerActivity, profile

from topicstance import hardware
from topicstance.models.cpu_linear import fused_linear_supported

# torch.profiler op names -> where the encoder's time goes (`time_shares`).
LINEAR_OPS = ("aten::addmm", "aten::mm", "aten::matmul", "aten::linear", "quantized::linear_dynamic",
              "mkldnn::_linear_pointwise")  # the last: `cpu_linear: fused`, its GELU inside
ATTENTION_OPS = ("scaled_dot_product", "aten::bmm", "aten::baddbmm", "aten::_softmax")


def encoder_flops(config, tokens: float) -> float:
    h, i, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    per_token_layer = 2 * (4 * h * h + 2 * h * i + 2 * tokens * h)
    return layers * tokens * per_token_layer


def matmul_gflops(precision: str, rows: int, hidden: int, intermediate: int,
                  seconds: float, device: str = "cpu") -> float:
    """Best GFLOP/s of (rows x hidden) @ (hidden x intermediate) over `seconds` of repeats."""
    torch.manual_seed(0)
    device = "cpu" if precision == "int8" else device
    x = torch.randn(rows, hidden, device=device)
    if precision == "int8":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            layer = torch.ao.nn.quantized.dynamic.Linear(hidden, intermediate)
            layer.set_weight_bias(torch.quantize_per_tensor(
                torch.randn(intermediate, hidden), 0.05, 0, torch.qint8), None)

        def step():
            return layer(x)
    else:
        dtype = torch.bfloat16 if precision == "bf16" else torch.float32
        a, w = x.to(dtype), torch.randn(hidden, intermediate, device=device).to(dtype)
        if device == "cpu" and fused_linear_supported(dtype):
            packed = torch.ops.mkldnn._reorder_linear_weight(w.t().contiguous())
            onednn = _best_seconds(lambda: torch.ops.mkldnn._linear_pointwise(
                a, packed, None, "none", [], ""), seconds / 2)
            mkl = _best_seconds(lambda: a @ w, seconds / 2)
            return 2 * rows * hidden * intermediate / min(onednn, mkl) / 1e9

        def step():
            out = a @ w
            if device == "cuda":
                torch.cuda.synchronize()  # a GPU kernel is timed when it ends, not when queued
            return out
    return 2 * rows * hidden * intermediate / _best_seconds(step, seconds) / 1e9


def _best_seconds(step, seconds: float) -> float:
    """The fastest of at least three calls of `step`, repeated for `seconds`."""
    best, repeats, deadline = float("inf"), 0, time.perf_counter() + seconds
    with torch.inference_mode():
        step()
        while repeats < 3 or time.perf_counter() < deadline:
            began = time.perf_counter()
            step()
            best, repeats = min(best, time.perf_counter() - began), repeats + 1
    return best


def roofline(finetuned, texts: list[str], precisions, seconds: float,
             peaks_seen: dict | None = None) -> dict:
    """The matmul's rows: the tokens of one inference batch as the model runs it on its device.
    `peaks_seen`: GFLOP/s measured earlier in the run; the peak is the best of both (a busy
    neighbour on a shared machine only ever lowers a measured peak)."""
    batch = finetuned.inference_batch_size(finetuned.device)
    # an emulated precision's matmuls are PyTorch's emulation, not a limit of the CPU
    precisions = [p for p in precisions if not hardware.emulated(p, finetuned.device)]
    config = finetuned.network.encoder.config
    tokens = finetuned.tokenizer(texts, truncation=True,
                                 max_length=int(finetuned.params["max_length"]))["input_ids"]
    mean_tokens = sum(len(t) for t in tokens) / len(tokens)
    flops = encoder_flops(config, mean_tokens)
    rows = int(batch * mean_tokens)
    peaks = {p: max(round(matmul_gflops(p, rows, config.hidden_size, config.intermediate_size,
                                        seconds, finetuned.device), 1),
                    (peaks_seen or {}).get(p, 0.0))
             for p in precisions}
    return {"device": finetuned.device, "mean_tokens": round(mean_tokens, 1), "gflop_per_segment": round(flops / 1e9, 4),
            "layers": config.num_hidden_layers, "hidden": config.hidden_size,
            "intermediate": config.intermediate_size, "matmul_shape": [rows, config.hidden_size,
                                                                       config.intermediate_size],
            "peak_gflops": peaks,
            "ceiling_segments_per_second": {p: round(g * 1e9 / flops, 1) for p, g in peaks.items()}}


def fraction(row_segments_per_second: float, flops_per_segment_g: float, peak_gflops: float) -> float:
    return round(row_segments_per_second * flops_per_segment_g / peak_gflops, 3)




def time_shares(finetuned, texts: list[str], precisions, emulated_segments: int) -> dict:
    """Where one inference pass over `texts` spends its time, at each precision (one profiled
    pass after a warm-up): the linear layers (the matmuls the roofline counts), attention (its
    scores, softmax and weighted sum: few FLOPs over ~80 tokens of 32-dim heads, but not free),
    the rest of the torch ops (GELU, layer norms, adds, casts), and what runs outside torch ops
    (tokenizing, padding, Python). With the linear layers' own GFLOP/s: how close the matmuls
    alone come to the peak. A precision this CPU emulates profiles the first
    `emulated_segments` texts only."""
    config = finetuned.network.encoder.config
    h, i, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    shares = {}
    for precision in precisions:
        finetuned.set_precision(precision)
        sample = (texts[:emulated_segments]
                  if hardware.emulated(precision, finetuned.inference_settings()["device"])
                  else texts)
        tokens = sum(len(t) for t in finetuned.tokenizer(
            sample, truncation=True, max_length=int(finetuned.params["max_length"]))["input_ids"])
        linear_flops = layers * tokens * 2 * (4 * h * h + 2 * h * i)
        finetuned.predict_scores(sample[:64])  # warm-up (quantizes / casts once)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            began = time.perf_counter()
            finetuned.predict_scores(sample)
            wall = time.perf_counter() - began
        seconds = {"linear": 0.0, "attention": 0.0, "other_ops": 0.0}
        for op in prof.key_averages():
            kind = ("linear" if op.key in LINEAR_OPS
                    else "attention" if any(name in op.key for name in ATTENTION_OPS)
                    else "other_ops")
            seconds[kind] += op.self_cpu_time_total / 1e6
        seconds["outside_ops"] = max(wall - sum(seconds.values()), 0.0)
        total = sum(seconds.values())
        shares[precision] = {**{k: round(v / total, 3) for k, v in seconds.items()},
                             "linear_gflops": round(linear_flops / seconds["linear"] / 1e9, 1)
                             if seconds["linear"] else None}
    finetuned.set_precision("auto")
    return shares
