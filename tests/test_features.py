"""helpers/features.py at scale: DataLoader extraction, chunked resumable cache, reduced maps, offline weights."""

import os
import stat

import numpy as np
import pytest
import torch
from PIL import Image

from helpers import features as F_
from helpers.formats import ClassData


class TinyNet(torch.nn.Module):
    """A stand-in backbone: pooled = per-channel mean of a fixed 1x1 conv with `channels` outputs."""

    def __init__(self, channels):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.w = torch.randn(channels, 3, generator=g)
        self.calls = 0

    def forward(self, x):  # (B, 3, S, S) -> (B, C), (B, C, S/8, S/8)
        self.calls += 1
        m = torch.einsum("bchw,kc->bkhw", torch.nn.functional.avg_pool2d(x, 8), self.w)
        return m.mean((2, 3)), m

    def to(self, device):
        return self


def _photos(folder, n, size=(300, 200), fmt="JPEG"):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    names = []
    for i in range(n):
        name = f"im{i:03d}.{'jpg' if fmt == 'JPEG' else 'png'}"
        Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(folder / name, fmt)
        names.append(name)
    return names


def test_dataloader_extraction_matches_preprocess_for_small_images(tmp_path):
    names = _photos(tmp_path, 5, size=(40, 30), fmt="PNG")  # no draft/reduce for images this small
    net = TinyNet(8)
    out = F_.extract(
        [tmp_path / n for n in names], "efficientnet_lite0", size=32, batch_size=2, model=net, progress=False, workers=0
    )
    ims = [Image.open(tmp_path / n) for n in names]
    v, m = net(F_.preprocess(ims, 32, *F_.BACKBONES["efficientnet_lite0"][1:]))
    assert np.allclose(out["pooled"], v.numpy(), atol=1e-6)
    assert out["map"].dtype == np.float16 and out["map"].shape == (5, 8, 4, 4)


def test_workers_give_the_same_features_as_the_main_process(tmp_path):
    names = _photos(tmp_path, 6)
    paths = [tmp_path / n for n in names]
    a = F_.extract(paths, size=32, batch_size=4, model=TinyNet(8), progress=False, workers=0)
    b = F_.extract(paths, size=32, batch_size=4, model=TinyNet(8), progress=False, workers=2)
    assert np.array_equal(a["pooled"], b["pooled"]) and np.array_equal(a["map"], b["map"])


def test_wide_maps_are_projected_to_at_most_128_channels(tmp_path):
    names = _photos(tmp_path, 6)
    out = F_.extract([tmp_path / n for n in names], size=64, model=TinyNet(300), progress=False, workers=0)
    assert out["map"].shape == (6, F_.MAP_CHANNELS, 8, 8) and out["map"].dtype == np.float16
    assert out["projection"].shape == (300, F_.MAP_CHANNELS)
    p = out["projection"].astype(np.float64)
    assert np.allclose(p.T @ p, np.eye(F_.MAP_CHANNELS), atol=1e-4)  # orthonormal principal directions


def test_chunked_cache_resumes_after_an_interruption(tmp_path, monkeypatch):
    monkeypatch.setenv("SEEING_SAYING_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(F_, "CHUNK", 4)
    names = _photos(tmp_path / "img", 10)
    data = ClassData(tmp_path / "img", ["x"], {}, names, np.zeros(10, np.int64), name="toy/train")
    net = TinyNet(8)
    monkeypatch.setattr(F_, "Backbone", lambda name: net)
    real_extract, calls = F_.extract, []

    def dies_on_second_chunk(paths, *a, **k):
        calls.append(len(paths))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_extract(paths, *a, **{**k, "workers": 0})

    monkeypatch.setattr(F_, "extract", dies_on_second_chunk)
    with pytest.raises(KeyboardInterrupt):
        F_.cached_features(data, size=32, progress=False)
    parts = list((tmp_path / "cache" / "features").glob("*.parts/*.npz"))
    assert len(parts) == 1  # the first chunk was kept, nothing half-written beside it
    assert not list((tmp_path / "cache" / "features").rglob("*.tmp")) and not [
        p for p in (tmp_path / "cache" / "features").rglob(".*") if p.is_file()
    ]
    calls.clear()
    monkeypatch.setattr(
        F_,
        "extract",
        lambda paths, *a, **k: (calls.append(len(paths)), real_extract(paths, *a, **{**k, "workers": 0}))[1],
    )
    out = F_.cached_features(data, size=32, progress=False)
    assert calls == [4, 2]  # only the missing chunks ran
    assert out["pooled"].shape == (10, 8) and list(out["files"]) == names
    final = next((tmp_path / "cache" / "features").glob("*.npz"))
    assert not list((tmp_path / "cache" / "features").glob("*.parts"))
    assert stat.S_IMODE(final.stat().st_mode) & 0o040  # group-readable, not mkstemp's 0600
    whole = real_extract(data.paths(), size=32, model=net, progress=False, workers=0)
    assert np.allclose(out["pooled"], whole["pooled"])


def _toy_cache(tmp_path, monkeypatch, n=3):
    monkeypatch.setenv("SEEING_SAYING_CACHE", str(tmp_path / "cache"))
    names = _photos(tmp_path / "img", n)
    monkeypatch.setattr(F_, "Backbone", lambda name: TinyNet(8))
    real_extract, calls = F_.extract, []

    def counted(paths, *a, **k):
        calls.append(len(paths))
        return real_extract(paths, *a, **{**k, "workers": 0})

    monkeypatch.setattr(F_, "extract", counted)
    return ClassData(tmp_path / "img", ["x"], {}, names, np.zeros(n, np.int64), name="toy/train"), calls


def test_images_repainted_under_the_same_names_are_extracted_again(tmp_path, monkeypatch):
    data, calls = _toy_cache(tmp_path, monkeypatch)
    red = F_.cached_features(data, size=32, progress=False)["pooled"]
    assert np.array_equal(F_.cached_features(data, size=32, progress=False)["pooled"], red) and calls == [3]
    for name in data.files:  # same names, other pixels
        Image.new("RGB", (300, 200), (0, 0, 255)).save(tmp_path / "img" / name, "JPEG")
    blue = F_.cached_features(data, size=32, progress=False)["pooled"]
    assert calls == [3, 3] and not np.allclose(blue, red)


def test_two_processes_asking_for_the_same_features_extract_them_once(tmp_path, monkeypatch):
    """The second waits for the first's file lock and reads its result (two extractions raced on `.parts/`)."""
    import threading
    import time

    data, calls = _toy_cache(tmp_path, monkeypatch)
    counted, entered = F_.extract, threading.Event()

    def slow(*a, **k):
        entered.set()
        time.sleep(1.0)  # the other caller arrives while this one extracts
        return counted(*a, **k)

    monkeypatch.setattr(F_, "extract", slow)
    out = {}
    first = threading.Thread(target=lambda: out.setdefault("a", F_.cached_features(data, size=32, progress=False)))
    first.start()
    entered.wait(30)
    out["b"] = F_.cached_features(data, size=32, progress=False)
    first.join(30)
    assert calls == [3] and np.array_equal(out["a"]["pooled"], out["b"]["pooled"])


@pytest.mark.parametrize("link", ["symbolic", "hard"])
def test_a_lock_file_that_is_a_link_is_never_written_through(tmp_path, monkeypatch, link):
    """filelock opens `<key>.npz.lock` with O_TRUNC and chmods it: a link there emptied a file elsewhere."""
    data, calls = _toy_cache(tmp_path, monkeypatch)
    victim = tmp_path / "notes.txt"
    victim.write_text("precious\n")
    victim.chmod(0o600)
    key = F_.cache_key(
        data.name, "efficientnet_lite0", 32, data.files, F_.FEATURES_VERSION, F_.file_stamps(data.paths())
    )
    lock = F_.cache_dir("features") / f"{key}.npz.lock"
    lock.symlink_to(victim) if link == "symbolic" else os.link(victim, lock)
    F_.cached_features(data, size=32, progress=False)
    assert victim.read_text() == "precious\n" and stat.S_IMODE(victim.stat().st_mode) == 0o600 and calls == [3]


def test_resnet152_without_weights_offline_says_how_to_get_them(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    with pytest.raises(F_.MissingWeightsError, match="python -m helpers fetch resnet152") as e:
        F_.Backbone("resnet152")
    assert "\n" not in str(e.value)


def test_extract_names_an_unknown_backbone_before_any_work(tmp_path):
    # a typo in the backbone name is a ValueError naming the choices, as `Backbone` gives, not a bare KeyError
    with pytest.raises(ValueError, match="unknown backbone 'resnet'; choose one of"):
        F_.extract([tmp_path / "missing.png"], backbone="resnet")
