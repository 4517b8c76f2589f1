"""What this CPU runs natively, and the inference precision that follows from it.

bf16 autocast is fast only where the CPU has bf16 instructions (AVX-512 BF16 or AMX); elsewhere
PyTorch emulates it and it runs 4-5x *slower* than fp32 (measured on an AVX2-only EPYC: 2.5
segments/s against 13.7). So `precision: auto` looks at the CPU when a model is loaded.
"""

import functools
import logging
from pathlib import Path

log = logging.getLogger(__name__)
NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


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


def torch_capability() -> str:
    import torch

    return str(torch.backends.cpu.get_cpu_capability())


def choose_precision(requested: str) -> tuple[str, str]:
    """(precision, why). `auto` means bf16 where the CPU computes bf16 natively, else fp32;
    any other value is taken as given."""
    if requested != "auto":
        return requested, "set in the model config"
    native = [flag for flag in NATIVE_BF16_FLAGS if flag in cpu_flags()]
    if native:
        return "bf16", f"auto: CPU has {'/'.join(native)} (torch kernels: {torch_capability()})"
    return "fp32", (f"auto: no native bf16 on this CPU (no {'/'.join(NATIVE_BF16_FLAGS)}; "
                    f"torch kernels: {torch_capability()}), bf16 would be emulated")
