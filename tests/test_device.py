"""Device helpers: the CPU budget follows a container's quota, seeding repeats, bad device names fail."""

import os

import pytest
import torch

from helpers import device as D


def affinity():
    return len(os.sched_getaffinity(0))


@pytest.mark.parametrize(
    "text, expected",
    [
        ("max 100000\n", None),  # no quota: the affinity mask decides
        ("200000 100000\n", 2),  # --cpus=2
        ("50000 100000\n", 1),  # half a core still gets one thread
        ("garbage\n", None),  # unreadable: ignored
    ],
)
def test_cpu_count_respects_a_cgroup_quota(tmp_path, text, expected):
    f = tmp_path / "cpu.max"
    f.write_text(text)
    want = affinity() if expected is None else min(affinity(), expected)
    assert D.cpu_count(str(f)) == want
    assert D.cpu_count(str(tmp_path / "missing")) == affinity()


def test_limit_threads_never_exceeds_the_budget(monkeypatch):
    before = torch.get_num_threads()
    try:
        monkeypatch.setattr(D, "cpu_count", lambda: 1)
        torch.set_num_threads(2)
        assert D.limit_threads() == 1 == torch.get_num_threads()
    finally:
        torch.set_num_threads(before)


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
