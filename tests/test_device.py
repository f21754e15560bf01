"""Device helpers: the CPU budget follows a container's quota, seeding repeats, bad device names fail."""

import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from helpers import device as D


def affinity():
    return len(os.sched_getaffinity(0))


def test_cpu_count_follows_the_affinity_and_a_cgroup_quota():
    """Never more than the cores this process may run on, or than a cgroup v2 quota (where there is one)."""
    assert 1 <= D.cpu_count() <= affinity()
    cpu_max = Path("/sys/fs/cgroup/cpu.max")
    quota, period = (cpu_max.read_text().split() + ["max", "1"])[:2] if cpu_max.is_file() else ("max", "1")
    if quota != "max":
        assert D.cpu_count() <= math.ceil(int(quota) / int(period))
    cpus = sorted(os.sched_getaffinity(0))
    try:  # as `taskset -c <one core>` would start this process
        os.sched_setaffinity(0, cpus[:1])
        assert D.cpu_count() == 1
    finally:
        os.sched_setaffinity(0, cpus)


@pytest.mark.parametrize("value, expected", [("1", 1), ("not a number", None)])
def test_cpu_count_and_limit_threads_follow_loky_max_cpu_count(monkeypatch, value, expected):
    """joblib's own setting caps the count; a value that is not a number is ignored, not an error."""
    monkeypatch.setenv("LOKY_MAX_CPU_COUNT", value)
    assert D.cpu_count() == (expected or affinity())
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        assert D.limit_threads() == min(2, expected or 2) == torch.get_num_threads()
    finally:
        torch.set_num_threads(before)


def test_torch_threads_sets_then_restores_the_count_even_when_the_block_raises(monkeypatch):
    """The block runs on the asked count (capped at cpu_count()); the previous count comes back after it."""
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        with D.torch_threads(1) as n:
            assert n == 1 == torch.get_num_threads()
        assert torch.get_num_threads() == 2
        with D.torch_threads(np.int64(1)) as n:  # a NumPy integer is a whole number too
            assert n == 1 == torch.get_num_threads()
        assert torch.get_num_threads() == 2
        with pytest.raises(RuntimeError, match="inside"):
            with D.torch_threads(1):
                raise RuntimeError("inside")
        assert torch.get_num_threads() == 2
        monkeypatch.setenv("LOKY_MAX_CPU_COUNT", "1")  # a 1-core quota caps a request for 8
        with D.torch_threads(8) as n:
            assert n == 1 == torch.get_num_threads()
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True, None])
def test_torch_threads_refuses_a_count_that_is_not_a_whole_number_of_threads(bad):
    before = torch.get_num_threads()
    with pytest.raises(ValueError, match="whole number of threads"):
        with D.torch_threads(bad):
            pass
    assert torch.get_num_threads() == before


def test_seed_everything_repeats():
    D.seed_everything(3)
    a = torch.rand(4)
    D.seed_everything(3)
    assert torch.equal(a, torch.rand(4))


def test_pick_device_rejects_bad_names_and_falls_back(capsys):
    with pytest.raises(ValueError, match="device must be"):
        D.pick_device("tpu")
    assert D.pick_device("cpu", verbose=False).type == "cpu"
    if not torch.cuda.is_available():
        assert D.pick_device("cuda").type == "cpu"
        assert "no GPU is visible" in capsys.readouterr().out
