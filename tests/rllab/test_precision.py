"""`rllab.precision`: bfloat16 only where the machine computes it in hardware."""
import os

import pytest

from rllab import precision
from rllab.errors import UsageError


@pytest.fixture
def cpu(monkeypatch):
    """Pretend the CPU has the given /proc/cpuinfo flags (and forget the cached answer before and after)."""
    def pretend(*flags):
        monkeypatch.setattr(precision, "cpu_flags", lambda: frozenset(flags))
        precision.native_bfloat16.cache_clear()
    yield pretend
    precision.native_bfloat16.cache_clear()


@pytest.mark.parametrize("flags", [("avx512f", "avx512_bf16"), ("amx_bf16",)])
def test_auto_picks_bfloat16_on_a_cpu_that_has_it(cpu, flags):
    cpu(*flags)
    assert precision.resolve_mixed_precision("auto") is True


def test_auto_picks_float32_on_a_cpu_without_it_and_no_gpu(cpu, monkeypatch):
    import tensorflow as tf

    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [])
    cpu("avx512f", "avx512_vnni")  # Cascade Lake: AVX-512 but no bfloat16 arithmetic
    assert precision.resolve_mixed_precision("auto") is False
    assert precision.resolve_mixed_precision(True) is True  # asked for explicitly: kept


def test_a_gpu_counts_as_native_bfloat16(cpu, monkeypatch):
    import tensorflow as tf

    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: ["GPU:0"] if kind == "GPU" else [])
    cpu()
    assert precision.native_bfloat16() is True


def test_cpu_flags_reads_this_machine():
    flags = precision.cpu_flags()
    if os.path.exists("/proc/cpuinfo"):  # Linux: every x86 and ARM CPU lists some flags
        assert flags and all(" " not in flag and ":" not in flag for flag in flags)
    else:
        assert flags == frozenset()


@pytest.mark.parametrize("value", ["yes", "bfloat16", 1, None])
def test_anything_but_true_false_or_auto_is_a_usage_error_naming_it(value):
    with pytest.raises(UsageError, match=f"--mixed-precision: expected true, false or 'auto', got {value!r}"):
        precision.check_mixed_precision(value)
