"""What this CPU runs natively, and the inference precision that follows from it.

bf16 autocast is fast only where the CPU has bf16 instructions (AVX-512 BF16 or AMX); elsewhere
PyTorch emulates it and it runs 4-5x *slower* than fp32 (measured on an AVX2-only EPYC: 2.5
segments/s against 13.7). int8 (dynamic quantization) runs faster than fp32 on every CPU
measured (18.6 against 13.7 there), but costs accuracy on some models: a model records at
training time whether int8 kept its dev metrics (`int8_check`), and `auto` takes int8 only then.
So `precision: auto` looks at the CPU, and at that record, when a model is loaded.
"""

import functools
import logging
import os
import platform
from pathlib import Path

log = logging.getLogger(__name__)
NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")
INT8_DOT_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8")  # int8 dot products in one instruction
REPORTED_FLAGS = ("avx2", "fma", "avx512f", *NATIVE_BF16_FLAGS, *INT8_DOT_FLAGS)


@functools.cache
def cpu_flags() -> frozenset[str]:
    """The feature flags of the first CPU in /proc/cpuinfo (empty where there is none)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def torch_capability() -> str:
    import torch

    return str(torch.backends.cpu.get_cpu_capability())


def describe() -> dict:
    """The CPU as benchmark records name it."""
    return {"cpu": cpu_model(), "cores": os.cpu_count(),
            "flags": [f for f in REPORTED_FLAGS if f in cpu_flags()],
            "torch_kernels": torch_capability()}


def choose_precision(requested: str, int8_check: dict | None = None) -> tuple[str, str]:
    """(precision, why). `auto`: bf16 where the CPU computes bf16 natively; else int8 where the
    model's `int8_check` says int8 kept its dev metrics; else fp32. Any other value is taken as
    given."""
    if requested != "auto":
        return requested, "set in the model config"
    kernels = f"torch kernels: {torch_capability()}"
    native = [flag for flag in NATIVE_BF16_FLAGS if flag in cpu_flags()]
    if native:
        return "bf16", f"auto: CPU has {'/'.join(native)} ({kernels})"
    no_bf16 = f"no native bf16 on this CPU (no {'/'.join(NATIVE_BF16_FLAGS)}; {kernels})"
    if int8_check and int8_check.get("keeps_metrics"):
        dot = [flag for flag in INT8_DOT_FLAGS if flag in cpu_flags()]
        return "int8", (f"auto: {no_bf16}; int8 kept the dev metrics at training "
                        f"(mean macro-F1 {int8_check['fp32']:.3f} fp32, {int8_check['int8']:.3f} "
                        f"int8){'; CPU has ' + '/'.join(dot) if dot else ''}")
    why = ("int8 lost more than the tolerance on dev at training" if int8_check
           else "the model has no int8 check")
    return "fp32", f"auto: {no_bf16}; {why}"
