"""Which arithmetic to compute in: bfloat16 where this machine has it in hardware, else float32.

Mixed bfloat16 (bfloat16 layers, float32 weights) pays only where the hardware computes in bfloat16: a
GPU, or a CPU with AVX512-BF16 or AMX. Elsewhere oneDNN converts every operand and the step is slower
than in float32: on a 2-core Cascade Lake (AVX-512 without BF16) dcgan's train step ran at 405 images/s in
bfloat16 against 842 in float32, and the Atari DQN learner at 42.7 env steps/s against 58.9; on the lab's
AVX512-BF16 CPU bfloat16 made them 1.17x and 1.21x faster (the README has the runs).
So the presets that want bfloat16 ask for ``"auto"``, and the choice is made on the machine that trains.

Free of TensorFlow at import; `native_bfloat16` imports it only to look for a GPU.

>>> check_mixed_precision("auto"), check_mixed_precision(False)
('auto', False)
>>> resolve_mixed_precision(True)
True
"""
from __future__ import annotations

import os
from functools import lru_cache

from rllab.errors import UsageError

AUTO = "auto"
"""The choice that `resolve_mixed_precision` makes per machine: bfloat16 where `native_bfloat16`."""
BFLOAT16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
"""/proc/cpuinfo flags of CPUs with bfloat16 arithmetic in hardware."""


CPUINFO = "/proc/cpuinfo"


def cpu_info(path: str | os.PathLike = CPUINFO) -> dict[str, str]:
    """The first processor's fields of ``path`` (``{"model name": ..., "flags": ...}``); empty where there is
    no such file (macOS, Windows)."""
    fields: dict[str, str] = {}
    try:
        with open(path) as lines:
            for line in lines:
                if not line.strip():
                    break  # the end of the first processor's block
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    return fields


def cpu_flags(path: str | os.PathLike = CPUINFO) -> frozenset[str]:
    """The CPU's feature flags (empty where there is no /proc/cpuinfo)."""
    return frozenset(cpu_info(path).get("flags", "").split())


def has_bfloat16_flags(flags) -> bool:
    """Whether CPU ``flags`` include bfloat16 arithmetic in hardware."""
    return bool(set(flags) & set(BFLOAT16_CPU_FLAGS))


@lru_cache(maxsize=None)
def native_bfloat16() -> bool:
    """Whether bfloat16 is computed in hardware here: a CPU with AVX512-BF16 / AMX, or a visible GPU."""
    if has_bfloat16_flags(cpu_flags()):
        return True
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def check_mixed_precision(value, flag: str = "--mixed-precision"):
    """``value`` validated: True, False or ``"auto"``; anything else is a `UsageError` naming it."""
    if isinstance(value, bool) or value == AUTO:
        return value
    raise UsageError(f"{flag}: expected true, false or {AUTO!r}, got {value!r}")


def resolve_mixed_precision(value) -> bool:
    """Whether to compute in mixed bfloat16: ``value`` itself, or for ``"auto"`` `native_bfloat16()`."""
    value = check_mixed_precision(value)
    return native_bfloat16() if value == AUTO else value
