"""The registry file is checked when it loads, and a torchvision weight file is checked against its name.

A damaged copy of `helpers/registry.toml` (in tmp_path: the real file is never touched) gives one RegistryError
whose one-line message names the file, the entry, the field and what was expected; the command line says it in
one line. A weight file whose sha256 does not start with the hex digits in its name is damaged, not present.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import pytest

from helpers import download as dl
from helpers import registry, weights
from helpers.__main__ import main

SHA = "031296bbc80c45a1d1f76bf9a90ead27e94e99ec629208449507a4917a3bf009"  # coco's annotations_trainval2014.zip


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SEEING_SAYING_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(dl.MIRROR_ENV, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))


def damaged(tmp_path: Path, old: str, new: str) -> Path:
    """A copy of the real registry with `old` (which must be there) replaced by `new`."""
    text = registry.REGISTRY_FILE.read_text(encoding="utf-8")
    assert old in text, old
    path = tmp_path / "registry.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------------- registry
@pytest.mark.parametrize(
    "old, new, says",
    [
        ("size = 252872794", 'size = "252872794"', "size must be a whole number of bytes >= 1"),
        ("size = 252872794", "size = -1", "size must be a whole number of bytes >= 1"),
        ("size = 252872794", "size = 0", "size must be"),
        ('extract = "annotations"', 'extrakt = "annotations"', "unknown key 'extrakt' (did you mean 'extract'?"),
        (f'sha256 = "{SHA}"', f'sha256 = "{SHA[:40]}"', "sha256 must be 64 hex digits"),
        (f'sha256 = "{SHA}"', f'sha256 = "sha256:{SHA}"', "no 'sha256:' prefix"),
        (f'sha256 = "{SHA}"', f'sha256 = "{"z" * 64}"', "sha256 must be 64 hex digits"),
        (
            'urls = ["http://images.cocodataset.org/annotations/annotations_trainval2014.zip"]',
            'urls = "http://images.cocodataset.org/annotations/annotations_trainval2014.zip"',
            "urls must be a list of http:// or https:// URLs",
        ),
        (
            'urls = ["http://images.cocodataset.org/annotations/annotations_trainval2014.zip"]',
            'urls = ["ftp://images.cocodataset.org/annotations_trainval2014.zip"]',
            "urls must be a list of http",
        ),
        ('extract = "annotations"', 'extract = "../../outside"', "extract must be a folder inside"),
        ('kind = "captions"', 'kind = "caption"', "kind must be one of"),
        ('title = "MS-COCO 2014', 'titel = "MS-COCO 2014', "unknown key 'titel' (did you mean 'title'?"),
    ],
)
def test_a_damaged_registry_gives_one_line_naming_file_entry_and_field(tmp_path, old, new, says):
    path = damaged(tmp_path, old, new)
    with pytest.raises(OSError) as e:
        registry.load_registry(path)
    msg = str(e.value)
    assert type(e.value).__name__ == "RegistryError"
    assert says in msg and str(path) in msg and "[coco]" in msg and "\n" not in msg
    if "[[" not in old and not old.startswith(("kind", "title")):
        assert "annotations_trainval2014.zip" in msg  # the file entry, not only the dataset


def test_a_bad_md5_and_a_bad_torchvision_entry_are_named(tmp_path):
    text = registry.REGISTRY_FILE.read_text(encoding="utf-8")
    md5 = text.split('md5 = "', 1)[1][:32]
    with pytest.raises(OSError, match=r"\[flickr8k\] file 1 .*md5 must be 32 hex digits"):
        registry.load_registry(damaged(tmp_path, f'md5 = "{md5}"', f'md5 = "{md5[:31]}"'))
    old = 'torchvision = ["resnet152", "ResNet152_Weights", "IMAGENET1K_V2"]'
    with pytest.raises(OSError, match=r"\[resnet152\]: torchvision must be \[model function"):
        registry.load_registry(damaged(tmp_path, old, 'torchvision = ["resnet152", "ResNet152_Weights"]'))


def test_a_registry_that_is_not_toml_gives_one_line(tmp_path):
    with pytest.raises(OSError) as e:
        registry.load_registry(damaged(tmp_path, "[coco]\n", "[coco\n"))
    assert type(e.value).__name__ == "RegistryError" and "cannot be read" in str(e.value)
    assert str(tmp_path / "registry.toml") in str(e.value) and "\n" not in str(e.value)
    assert e.value.__cause__ is None and e.value.__suppress_context__


def test_upper_case_hex_digests_are_accepted_and_kept_in_lower_case(tmp_path):
    reg = registry.load_registry(damaged(tmp_path, f'sha256 = "{SHA}"', f'sha256 = "{SHA.upper()}"'))
    assert reg["coco"].resource("annotations_trainval2014.zip").sha256 == SHA


def test_a_resource_made_in_code_is_checked_too():
    with pytest.raises(OSError, match="size must be a whole number of bytes >= 1") as e:
        registry.Resource("pack.zip", ("http://example.org/pack.zip",), size=-1)
    assert "'pack.zip'" in str(e.value)
    with pytest.raises(OSError, match="sha256 must be 64 hex digits"):
        registry.Resource("pack.zip", ("http://example.org/pack.zip",), sha256="sha256:" + SHA, size=5)
    with pytest.raises(OSError, match="urls must be a list"):
        registry.Resource("pack.zip", "http://example.org/pack.zip")


def test_the_command_line_says_an_unusable_registry_in_one_line(tmp_path, monkeypatch, capsys):
    unusable = registry._registry_or_error(damaged(tmp_path, 'extract = "annotations"', 'extrakt = "annotations"'))
    monkeypatch.setattr(registry, "REGISTRY", unusable)
    monkeypatch.setattr(dl, "REGISTRY", unusable)
    for argv in (["datasets"], ["fetch", "coco", "--files", "annotations_trainval2014.zip"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "unknown key 'extrakt'" in err and "registry.toml" in err, err
    with pytest.raises(OSError, match="unknown key 'extrakt'"):
        dl.get_dataset("coco")


HEAD = 'title = "t"\nkind = "captions"\nlicense = "t"\ncitation = "t"\n'


def one_entry(tmp_path: Path, files, name: str = '"x"') -> Path:
    """A registry file with one entry `name` (TOML key) whose files are the TOML lines in `files`."""
    path = tmp_path / "registry.toml"
    body = "".join(f'[[{name}.files]]\nurls = ["https://example.org/a.zip"]\n{f}\n' for f in files)
    path.write_text(f"[{name}]\n{HEAD}{body}", encoding="utf-8")
    return path


def one_line_error(path: Path, says: str) -> str:
    with pytest.raises(OSError) as e:
        registry.load_registry(path)
    msg = str(e.value)
    assert type(e.value).__name__ == "RegistryError" and says in msg, msg
    assert str(path) in msg and "\n" not in msg
    return msg


@pytest.mark.parametrize(
    "name", ['"../../escaped"', '"."', '".."', '"a/b"', '"Coco"', '"-x"', '"a\\u0000b"', '"a\\nb"']
)
def test_a_dataset_name_must_be_one_folder_name(tmp_path, name):
    one_line_error(one_entry(tmp_path, ['filename = "a.zip"'], name), "the name must be one folder name")
    with pytest.raises(OSError, match="name must be one folder name"):
        registry.Dataset(name.strip('"'), "t", "captions", (registry.Resource("a.zip", ()),), "t", "t")
    assert {"coco", "coco-spanish", "fasttext-crawl-en", "vgg16_bn"} <= set(registry.load_registry())  # the real ones


@pytest.mark.parametrize(
    "files, says",
    [
        (['filename = "a.zip"\nsize = 5', 'filename = "a.zip"\nsize = 7'], "filename/path 'a.zip' is given to two"),
        (['filename = "a.txt"\npath = "d/t.txt"', 'filename = "b.txt"\npath = "d/t.txt"'], "'d/t.txt' is given to two"),
        (['filename = "a.txt"', 'filename = "b.txt"\npath = "a.txt"'], "filename/path 'a.txt' is given to two"),
        (['filename = "a.zip"\nextract = "d"', 'filename = "b.zip"\nextract = "d"'], "extract 'd' is given to two"),
        (['filename = "a.zip"\nextract = "a.zip"'], "path 'a.zip' and extract 'a.zip' overlap"),
        (['filename = "a.zip"\nextract = "d"', 'filename = "b.zip"\npath = "d/b.zip"'], "path 'd/b.zip' and extract"),
        (['filename = "a.zip"\nextract = "b.zip/d"', 'filename = "b.zip"'], "path 'b.zip' and extract 'b.zip/d'"),
    ],
)
def test_two_files_of_an_entry_cannot_share_a_name_or_a_place(tmp_path, files, says):
    msg = one_line_error(one_entry(tmp_path, files), says)
    assert "[x]" in msg
    resources = [registry.Resource(**registry.tomllib.loads(f), urls=()) for f in files]
    with pytest.raises(OSError, match=says.replace("(", r"\(")):
        registry.Dataset("x", "t", "captions", tuple(resources), "t", "t")


@pytest.mark.parametrize(
    "line, says",
    [
        ('filename = "a\\u0000.zip"', "filename must be a file name"),
        ('filename = "a\\n.zip"', "filename must be a file name"),
        ('filename = "a.zip"\npath = "d/a\\t.zip"', "path must be a path inside"),
        ('filename = "a.zip"\nextract = "d\\u0000"', "extract must be a folder inside"),
        ('filename = "a.zip"\nurls = ["https://example.org/a\\u0000.zip"]', "urls must be a list of http"),
        ('filename = "a.zip"\nurls = ["https://example.org/a\\u007f.zip"]', "urls must be a list of http"),
        ('filename = "a.zip"\nextract = "./."', "extract must be a folder inside"),
        ('filename = "a.zip"\nextract = "./"', "extract must be a folder inside"),
        ('filename = "a.zip"\nextract = "d//e"', "extract must be a folder inside"),
        ('filename = "a.zip"\nextract = "..."', "extract must be a folder inside"),
        ('filename = "a.zip"\npath = "./a.zip"', "path must be a path inside"),
        ('filename = "..."', "filename must be a file name"),
        (
            'filename = "a.zip"\nsize = 100000000000000000000000',
            "size must be a whole number of bytes >= 1 and at most",
        ),
    ],
)
def test_control_characters_dot_parts_and_huge_sizes_are_refused(tmp_path, line, says):
    path = tmp_path / "registry.toml"
    path.write_text(f"[x]\n{HEAD}[[x.files]]\n{line}\n" + ("" if "urls" in line else 'urls = ["https://e.org/a"]\n'))
    assert "[x] file 1" in one_line_error(path, says)
    with pytest.raises(OSError, match=says):
        registry.Resource(**{"urls": (), **registry.tomllib.loads(line)})


# ------------------------------------------------------------------------------------ torchvision weights
def test_a_damaged_weight_file_is_not_reported_present(capsys):
    path = weights.torchvision_weights_path("resnet152")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"PK\x03\x04trunc")
    with pytest.raises(dl.ChecksumError) as e:
        weights.fetch_torchvision_weights("resnet152", progress=False)
    msg = str(e.value)
    assert "\n" not in msg and "delete it" in msg and "python -m helpers fetch resnet152" in msg
    assert dl.status("resnet152")["status"].startswith("damaged")
    assert main(["fetch", "resnet152"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "f82ba261" in err
    assert main(["datasets"]) == 0
    assert json.loads(capsys.readouterr().out)["resnet152"]["status"].startswith("damaged")
    assert path.exists()  # the user deletes it; nothing is removed behind their back


def named_after_its_sha256(monkeypatch, data: bytes, prefix: str | None = None) -> Path:
    """A fake weight file for 'resnet152' named `resnet152-<prefix>.pth` (default: its own sha256's first 8)."""
    prefix = prefix or hashlib.sha256(data).hexdigest()[:8]
    ds = dl.REGISTRY["resnet152"]
    res = dataclasses.replace(ds.resources[0], filename=f"resnet152-{prefix}.pth")
    monkeypatch.setitem(registry.REGISTRY, "resnet152", dataclasses.replace(ds, resources=(res,)))
    path = weights.torchvision_weights_path("resnet152")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_a_weight_file_that_matches_its_name_is_present_and_hashed_once(monkeypatch):
    path = named_after_its_sha256(monkeypatch, b"fake weights " * 1000)
    assert weights.fetch_torchvision_weights("resnet152", progress=False) == path
    assert path.with_name(path.name + ".verified.json").is_file()  # the stamp: not hashed again

    def no_hashing(*args, **kwargs):
        raise AssertionError("hashed again")

    monkeypatch.setattr(weights.hashlib, "file_digest", no_hashing)
    assert dl.status("resnet152")["status"] == "present"
    assert weights.fetch_torchvision_weights("resnet152", progress=False) == path


def test_a_weight_file_whose_sha256_is_not_its_name_is_damaged(monkeypatch):
    data = b"fake weights " * 1000
    wrong = "%08x" % (int(hashlib.sha256(data).hexdigest()[:8], 16) ^ 1)
    named_after_its_sha256(monkeypatch, data, wrong)
    with pytest.raises(dl.ChecksumError, match=f"not the {wrong} its name says"):
        weights.fetch_torchvision_weights("resnet152", progress=False)
    assert dl.status("resnet152")["status"].startswith("damaged")
