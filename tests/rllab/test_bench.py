"""`rllab.bench`: what every benchmark report records about the machine."""
from rllab.bench import MachineRecord, cpu_description

CASCADE_LAKE = """processor\t: 0
vendor_id\t: GenuineIntel
cpu family\t: 6
model\t\t: 85
model name\t: Intel(R) Xeon(R) Processor @ 2.50GHz
flags\t\t: fpu sse2 avx2 avx512f avx512bw avx512_vnni

processor\t: 1
model\t\t: 143
flags\t\t: fpu avx512_bf16 amx_bf16
"""
SAPPHIRE_RAPIDS = """processor\t: 0
cpu family\t: 6
model\t\t: 143
model name\t: Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz
flags\t\t: fpu avx512f avx512_vnni avx512_bf16 amx_bf16 amx_tile
"""


def test_cpu_description_tells_two_xeons_apart_by_model_and_bfloat16(tmp_path):
    (tmp_path / "old").write_text(CASCADE_LAKE)
    (tmp_path / "new").write_text(SAPPHIRE_RAPIDS)
    assert cpu_description(tmp_path / "old") == {"name": "Intel(R) Xeon(R) Processor @ 2.50GHz", "model": "6/85",
                                                 "bfloat16": False}  # the second processor's block is not read
    assert cpu_description(tmp_path / "new") == {"name": "Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz",
                                                 "model": "6/143", "bfloat16": True}


def test_cpu_description_without_cpuinfo_is_unknown_not_an_error(tmp_path):
    described = cpu_description(tmp_path / "missing")
    assert described["model"] is None and described["bfloat16"] is False


def test_machine_record_carries_this_machines_cpu():
    assert MachineRecord().finish()["cpu"] == cpu_description()
