"""What this CPU runs natively, and the inference precision that follows from it.

bf16 is fast only where the CPU has bf16 instructions (AVX-512 BF16 or AMX); elsewhere
PyTorch emulates it and it runs 4-5x *slower* than fp32 (measured on an AVX2-only EPYC: 2.5
segments/s against 13.7). int8 (dynamic quantization) runs faster than fp32 on every CPU
measured (18.6 against 13.7 there), but costs accuracy on some models: a model records at
training time whether int8 kept its dev metrics (`int8_check`), and `auto` takes int8 only then.
So `precision: auto` looks at the CPU, and at that record, when a model is loaded.

A GPU is used where PyTorch sees one (`device: auto`) and never needed: there `auto` is bf16
where the GPU computes it natively, and int8 (dynamic quantization, a CPU feature of PyTorch)
runs on the CPU.
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


# TOPICSTANCE_CPU_ISA=avx2: take this CPU for an AVX2-only one, hiding every later x86 flag.
# `make bench ISA=avx2` sets it together with the kernel libraries' own limits, to measure on a
# newer CPU what an AVX2-only one runs.
ISA_LIMIT_VARIABLE = "TOPICSTANCE_CPU_ISA"
ABOVE_AVX2 = ("avx512", "amx", "avx_vnni", "avx_ne_convert", "avx_ifma")


def isa_limit() -> str | None:
    """The instruction-set limit set in the environment (only `avx2` is known), or None."""
    limit = os.environ.get(ISA_LIMIT_VARIABLE, "").strip().lower() or None
    if limit not in (None, "avx2"):
        raise ValueError(f"{ISA_LIMIT_VARIABLE}={limit}: the only limit known is avx2")
    return limit


@functools.cache
def cpu_flags() -> frozenset[str]:
    """The feature flags of the first CPU in /proc/cpuinfo (empty where there is none), less
    those above AVX2 under `TOPICSTANCE_CPU_ISA=avx2`."""
    flags: frozenset[str] = frozenset()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                flags = frozenset(line.split(":", 1)[1].split())
                break
    except OSError:
        pass
    if isa_limit() == "avx2":
        flags = frozenset(f for f in flags if not f.startswith(ABOVE_AVX2))
    return flags


def _cpuinfo_field(name: str) -> str | None:
    """A field of the first CPU in /proc/cpuinfo (None where there is none)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == name:
                return value.strip()
    except OSError:
        pass
    return None


def cpu_model() -> str:
    """The CPU's name, and on x86 its family and model numbers: a VM's "AMD EPYC" alone does
    not tell a Zen 4 host (family 25) from a Zen 5 one (family 26), whose bf16 speed differs
    twofold."""
    name = _cpuinfo_field("model name") or platform.processor() or platform.machine()
    family, model = _cpuinfo_field("cpu family"), _cpuinfo_field("model")
    return f"{name} (family {family}, model {model})" if family and model else name


def torch_capability() -> str:
    import torch

    return str(torch.backends.cpu.get_cpu_capability())


def gpu_name() -> str | None:
    """The GPU PyTorch would use, or None where it sees none (the CPU wheel never does)."""
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None


def describe() -> dict:
    """The CPU (and GPU, where there is one) as benchmark records name them."""
    return {"cpu": cpu_model(), "cores": os.cpu_count(),
            "flags": [f for f in REPORTED_FLAGS if f in cpu_flags()],
            "torch_kernels": torch_capability(), "gpu": gpu_name(), "isa_limit": isa_limit()}


def native_bf16_flags() -> list[str]:
    """This CPU's bf16 instructions (empty: PyTorch emulates bf16 here, 4-5x slower than fp32)."""
    return [flag for flag in NATIVE_BF16_FLAGS if flag in cpu_flags()]


def emulated(precision: str, device: str = "cpu") -> bool:
    """Whether `precision` runs emulated on `device`: bf16 on a CPU without bf16 instructions."""
    return precision == "bf16" and device == "cpu" and not native_bf16_flags()


def choose_device(requested: str) -> tuple[str, str]:
    """(device, why). `auto`: the GPU where PyTorch sees one, else the CPU. `cuda` asked for on a
    machine without one is an error, not a silent fallback."""
    gpu = gpu_name()
    if requested == "auto":
        return ("cuda", f"auto: GPU {gpu}") if gpu else ("cpu", "auto: no GPU visible to torch")
    if requested == "cuda" and not gpu:
        raise RuntimeError("device: cuda, but torch sees no GPU (set device: auto or cpu)")
    if requested not in ("cpu", "cuda"):
        raise ValueError(f"device must be auto, cpu or cuda, not {requested!r}")
    return requested, "set in the model config"


def choose_precision(requested: str, int8_check: dict | None = None,
                     device: str = "cpu") -> tuple[str, str]:
    """(precision, why). `auto` on a GPU: bf16 where it computes bf16 natively, else fp32. On the
    CPU: bf16 where the CPU computes bf16 natively; else int8 where the model's `int8_check`
    says int8 kept its dev metrics; else fp32. Any other value is taken as given."""
    if requested != "auto":
        return requested, "set in the model config"
    if device == "cuda":
        import torch

        if torch.cuda.is_bf16_supported():
            return "bf16", f"auto: GPU {gpu_name()} computes bf16 natively"
        return "fp32", f"auto: GPU {gpu_name()} has no native bf16"
    kernels = f"torch kernels: {torch_capability()}"
    native = native_bf16_flags()
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
