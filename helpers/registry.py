"""The registry of the real datasets: which files each has, where they come from, their checksums and terms.

The entries are data, in `helpers/registry.toml` (one table per dataset, one `[[<name>.files]]` entry per
file), read once into `REGISTRY` ({name: `Dataset`}). This module also knows where a dataset lives in the
cache (`dataset_dir`), what a file is expected to be (`expected_sha256`, `_describe`) and how to place it
by hand (`manual_instructions`); `helpers.download` fetches and checks the files.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from ._errors import CacheError, UnknownDatasetError
from ._stamps import _read_stamp, _stamp_is_fresh
from .paths import cache_dir

MIRROR_ENV = "SEEING_SAYING_MIRROR"
REGISTRY_FILE = Path(__file__).with_name("registry.toml")


@dataclass(frozen=True)
class Resource:
    """One file of a dataset.

    `sha256=None` means no checksum has been published or checked yet: the file is checked by `md5` (a
    published MD5, where there is one) and `size` (exact bytes, where known), and its sha256 is pinned on
    first download. `extract` names the folder (inside the dataset's folder) an archive unpacks to.
    `path` is where the file lives inside the dataset's folder (default: `filename`).
    """

    filename: str
    urls: tuple = ()
    sha256: str | None = None
    size: int | None = None
    md5: str | None = None
    extract: str | None = None
    approx: str = ""
    checksum_source: str = ""
    path: str | None = None

    @property
    def relpath(self) -> str:
        return self.path or self.filename


@dataclass(frozen=True)
class Dataset:
    """A dataset of the registry: its files, where it comes from, and the terms it comes with.

    `resource(filename)` is the `Resource` of one of its files (by file name or path); KeyError for another.
    """

    name: str
    title: str
    kind: str  # captions | classes | vectors | features+captions | weights
    resources: tuple
    license: str
    citation: str
    bibkey: str = ""
    homepage: str = ""
    manual: str = ""  # set when the files cannot be downloaded automatically: how to get them
    notes: str = ""
    splits: tuple = ()
    torchvision: tuple | None = None  # (model function, weights enum, member) for torchvision weights

    def resource(self, filename: str) -> Resource:
        for r in self.resources:
            if filename in (r.filename, r.relpath):
                return r
        raise KeyError(f"{self.name} has no file {filename!r}; its files: {[r.filename for r in self.resources]}")


def _tuples(entry: dict) -> dict:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in entry.items()}


def load_registry(path: Path = REGISTRY_FILE) -> dict:
    """{name: `Dataset`} from a registry TOML file (`helpers/registry.toml` by default), in file order."""
    with open(path, "rb") as f:
        table = tomllib.load(f)
    out = {}
    for name, entry in table.items():
        entry = dict(entry)
        files = tuple(Resource(**_tuples(r)) for r in entry.pop("files", ()))
        out[name] = Dataset(name=name, resources=files, **_tuples(entry))
    return out


REGISTRY: dict = load_registry()


def get_dataset(name: str) -> Dataset:
    """The registry entry of `name` (case, '-' or '_' forgiven), or an `UnknownDatasetError` listing the known names."""
    key = str(name).strip().lower()
    for k in (name, key, key.replace("_", "-"), key.replace("-", "_")):
        if k in REGISTRY:
            return REGISTRY[k]
    if name == "embedded":
        raise UnknownDatasetError("'embedded' is built, not downloaded: python -m helpers build")
    close = difflib.get_close_matches(key, list(REGISTRY), n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
    raise UnknownDatasetError(
        f"unknown dataset {name!r}.{hint} Known datasets: {', '.join(REGISTRY)} (and 'embedded', the book's own)."
    )


def _blocked(path: Path) -> CacheError:
    """The error for a path whose folder cannot be made: the first file that stands where a folder belongs."""
    path = Path(path)
    blocker = next((p for p in (path, *path.parents) if p.exists() and not p.is_dir()), path)
    env = os.environ.get("SEEING_SAYING_CACHE")
    if env and blocker in (Path(env).expanduser(), *Path(env).expanduser().parents):
        return CacheError(
            f"the cache folder SEEING_SAYING_CACHE={env} cannot be made: {blocker} is a file. "
            "Set SEEING_SAYING_CACHE to a folder (or move that file away) and try again"
        )
    return CacheError(f"{blocker} is a file where a folder of the cache belongs: move it away and try again")


def _mkdirs(path: Path) -> Path:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as e:
        raise _blocked(Path(e.filename or path)) from None
    return path


def dataset_dir(name: str, create: bool = True) -> Path:
    """The folder a registry dataset is kept in: `cache_dir("downloads")/<name>` (created unless `create=False`).

    `CacheError` (one line) when a file stands where the cache folder or one of its folders belongs;
    UnknownDatasetError for a name that is not in the registry.

    Used in: notebooks/00_data_features_devices.ipynb § Building the embedded dataset
    """
    name = get_dataset(name).name
    try:
        base = cache_dir()
    except (FileExistsError, NotADirectoryError) as e:
        raise _blocked(Path(e.filename or os.environ.get("SEEING_SAYING_CACHE", "."))) from None
    folder = base / "downloads" / name
    return _mkdirs(folder) if create else folder


def expected_sha256(ds: Dataset, res: Resource) -> str | None:
    """The registry's sha256, else the one pinned for the file now in the cache (None if neither)."""
    if res.sha256:
        return res.sha256.lower()
    target = dataset_dir(ds.name, create=False) / res.relpath
    stamp = _read_stamp(target)
    return stamp["sha256"] if stamp.get("pinned", True) and _stamp_is_fresh(target, stamp) else None


def _describe(ds: Dataset, res: Resource) -> str:
    """The expected file in one line: name, size, checksum (or why there is none)."""
    size = f"{res.size:,} bytes" if res.size else (f"about {res.approx}" if res.approx else "size unknown")
    sha = expected_sha256(ds, res)
    if sha:
        check = f"sha256 {sha}" + ("" if res.sha256 else " (pinned on this machine's first download)")
    else:
        check = "sha256 unknown (checksum unknown: pinned on the first download whose size is confirmed)"
        if res.md5:
            check += f", md5 {res.md5}"
    return f"{res.filename} ({size}; {check})"


def manual_instructions(ds: Dataset, res: Resource | None = None) -> str:
    """How to put a dataset's file(s) in place by hand (what an instructor does before class)."""
    folder = dataset_dir(ds.name, create=False)
    if ds.manual:
        return ds.manual.format(folder=folder)
    res = res or ds.resources[0]
    only = f" --files {res.filename}" if len(ds.resources) > 1 else ""
    return (
        f"To place it by hand (e.g. a copy an instructor downloaded): copy {res.filename} to\n"
        f"    {folder / res.relpath}\n"
        f"then run `python -m helpers fetch {ds.name}{only}` to verify it{' and unpack it' if res.extract else ''}. "
        f"A classroom can also set {MIRROR_ENV} to a folder or URL that holds the files."
    )


def _candidate_urls(ds: Dataset, res: Resource) -> list:
    urls = []
    mirror = os.environ.get(MIRROR_ENV, "").strip()
    if mirror:
        for sub in (f"{ds.name}/{res.relpath}", res.relpath, res.filename):
            if mirror.startswith(("http://", "https://")):
                urls.append(mirror.rstrip("/") + "/" + sub)
            elif (Path(mirror).expanduser() / sub).is_file():
                urls.append(str(Path(mirror).expanduser() / sub))
    urls += [u for u in res.urls if u not in urls]
    return list(dict.fromkeys(urls))
