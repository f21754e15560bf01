"""The embedded dataset: deterministic bytes, verified cache, repair of corrupt files, nothing half-written.

Built by helpers.embedded, read through the data front door (helpers.datasets)."""

import json

import numpy as np
import pytest

from helpers import embedded
from helpers.datasets import image_features, load_captions, load_classes, seen_unseen
from helpers.formats import read_coco_captions, read_tiny_imagenet

TINY = embedded.Config(
    n_train=12,
    n_val=4,
    n_test=6,
    class_limit=24,
    n_scene_classes=10,
    cls_train_per_class=2,
    cls_val_seen=1,
    cls_val_unseen=2,
)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SEEING_SAYING_CACHE", str(tmp_path))
    embedded._verified.clear()
    return tmp_path


def manifest(root):
    return json.loads((root / "manifest.json").read_text())["files"]


def test_same_seed_gives_byte_identical_dataset_and_features(tmp_path, monkeypatch):
    roots, feats = [], []
    for name in ("a", "b"):
        monkeypatch.setenv("SEEING_SAYING_CACHE", str(tmp_path / name))
        roots.append(embedded.build(TINY, progress=False, features=False))
        feats.append(image_features(load_captions("test_A", config=TINY), progress=False))
    assert manifest(roots[0]) == manifest(roots[1])
    for k in ("pooled", "map"):
        assert np.array_equal(feats[0][k], feats[1][k])
    other = embedded.Config(**{**TINY.__dict__, "seed": 1})
    monkeypatch.setenv("SEEING_SAYING_CACHE", str(tmp_path / "c"))
    assert manifest(embedded.build(other, progress=False, features=False)) != manifest(roots[0])


def test_loaders_read_the_embedded_data_through_the_real_format_readers(cache):
    root = embedded.build(TINY, progress=False, features=False)
    en = load_captions("train", "en", config=TINY)
    es = load_captions("train", "es", config=TINY)
    direct = read_coco_captions(root / "scenes/annotations/captions_train.json", root / "scenes/images/train")
    assert en.captions == direct.captions and len(en) == 12 and len(en.captions) == 60
    assert np.array_equal(en.caption_image, es.caption_image) and en.captions != es.captions
    assert all(p.is_file() for p in en.paths()) and len(en.scenes) == 12 and len(en.meanings) == 60
    train, val = load_classes("train", config=TINY), load_classes("val", config=TINY)
    assert len(read_tiny_imagenet(root / "classes", "val")) == len(val)
    seen, unseen = seen_unseen(train)
    assert unseen and set(unseen).isdisjoint(set(np.array(train.classes)[train.labels]))
    assert set(unseen) <= set(np.array(val.classes)[val.labels])
    assert set(embedded.class_split(TINY)[2]) <= set(seen)  # scenes use seen classes only


def test_corrupt_file_is_detected_and_rebuilt(cache):
    root = embedded.build(TINY, progress=False, features=False)
    victim = root / "scenes/images/val/val_00001.jpg"
    good = victim.read_bytes()
    victim.write_bytes(good[:100])
    assert embedded.verify(root, TINY) == ["scenes/images/val/val_00001.jpg"]
    embedded.build(TINY, progress=False, features=False)
    assert victim.read_bytes() == good and embedded.verify(root, TINY) == []


def test_interrupted_build_leaves_nothing_half_written(cache, monkeypatch):
    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(embedded, "_render_classes", boom)
    with pytest.raises(KeyboardInterrupt):
        embedded.build(TINY, progress=False, features=False)
    assert not embedded.dataset_root(TINY).exists()


def test_corrupt_feature_cache_is_recomputed(cache, capsys):
    embedded.build(TINY, progress=False, features=False)
    data = load_captions("val", config=TINY)
    first = image_features(data, progress=False)
    (npz,) = (cache / "features").glob("*.npz")
    npz.write_bytes(npz.read_bytes()[:200])
    again = image_features(data, progress=True)
    assert "recomputing" in capsys.readouterr().out
    assert np.array_equal(first["pooled"], again["pooled"])


def test_bad_names_get_clear_errors(cache):
    with pytest.raises(ValueError, match="unknown split"):
        load_captions("test_D", config=TINY)
    with pytest.raises(ValueError, match="language"):
        load_captions("train", "fr", config=TINY)


def test_configs_with_the_same_seed_do_not_share_a_folder_or_a_feature_cache(cache):
    bigger = embedded.Config(**{**TINY.__dict__, "image_size": 96})
    assert embedded.dataset_root(TINY) != embedded.dataset_root(bigger)
    assert embedded.dataset_name(TINY) != embedded.dataset_name(bigger)
    assert embedded.dataset_name() == f"embedded-{embedded.VERSION}-s0"  # the book's scenes keep their name
    assert embedded.dataset_root(embedded.Config(seed=3)).name == f"{embedded.VERSION}-s3"
    small, large = (embedded.build(c, progress=False, features=False) for c in (TINY, bigger))
    assert embedded.verify(small, TINY) == [] and embedded.verify(large, bigger) == []
    a, b = (load_captions("val", config=c) for c in (TINY, bigger))
    assert a.name != b.name and a.files == b.files  # same file names: only the name keeps the caches apart
    fa, fb = image_features(a, progress=False), image_features(b, progress=False)
    assert not np.array_equal(fa["pooled"], fb["pooled"])


# --------------------------------------------------------- a second round of inputs made by others (build)
def _no_render(monkeypatch):  # build() without its minutes of rendering: one small file per split
    def fake_split(tmp, split, *a, **k):
        (tmp / split).mkdir()
        (tmp / split / "x.txt").write_text(split)

    monkeypatch.setattr(embedded, "_render_scene_split", fake_split)
    monkeypatch.setattr(embedded, "_render_classes", lambda *a, **k: None)


def test_build_replaces_a_file_where_the_dataset_folder_belongs(cache, monkeypatch):
    _no_render(monkeypatch)
    root = embedded.dataset_root()
    root.parent.mkdir(parents=True, exist_ok=True)
    root.write_text("not a folder")
    assert embedded.build(features=False, progress=False) == root
    assert root.is_dir() and embedded.verify(root) == []
    assert not root.with_name(root.name + ".partial").exists()


def test_an_interrupted_build_leaves_nothing_half_built(cache, monkeypatch):
    _no_render(monkeypatch)

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(embedded, "_render_classes", interrupted)
    root = embedded.dataset_root()
    with pytest.raises(KeyboardInterrupt):
        embedded.build(features=False, progress=False)
    assert not root.exists() and not root.with_name(root.name + ".partial").exists()


@pytest.mark.parametrize("text", ["[1, 2]", '{"files": [1]}', '"files"', "\xff\xfe"])
def test_a_manifest_of_the_wrong_shape_means_rebuild(cache, text):
    root = embedded.dataset_root()
    root.mkdir(parents=True)
    (root / "manifest.json").write_bytes(text.encode("latin-1"))
    assert embedded.verify(root) == ["manifest.json"]


def test_build_cli_with_a_cache_that_is_a_file_prints_one_line(tmp_path):
    import os
    import subprocess
    import sys

    (tmp_path / "cache").write_text("a file")
    env = {**os.environ, "SEEING_SAYING_CACHE": str(tmp_path / "cache")}
    p = subprocess.run(
        [sys.executable, "-m", "helpers", "build", "--no-features"], capture_output=True, text=True, env=env
    )
    assert p.returncode == 2 and "Traceback" not in p.stderr, p.stderr
    assert p.stderr.startswith("build: ") and len(p.stderr.strip().splitlines()) == 1, p.stderr


def test_fingerprint_follows_the_code_that_draws_and_captions_the_scenes(monkeypatch):
    """An edit of the drawing code makes the cached dataset stale (rebuilt), as an edit of the atlas does."""
    from pathlib import Path

    before, real = embedded.fingerprint(), Path.read_bytes
    for module in embedded.GENERATORS:
        monkeypatch.setattr(Path, "read_bytes", lambda self, m=module: real(self) + b"#" * (self.name == m))
        assert embedded.fingerprint() != before, module
    monkeypatch.undo()
    assert embedded.fingerprint() == before
