"""The registry of the real datasets: which files each has, where they come from, their checksums and terms.

The entries are data, in `helpers/registry.toml` (one table per dataset, one `[[<name>.files]]` entry per
file), read once into `REGISTRY` ({name: `Dataset`}). This module also knows where a dataset lives in the
cache (`dataset_dir`), what a file is expected to be (`expected_sha256`, `_describe`) and how to place it
by hand (`manual_instructions`); `helpers.download` fetches and checks the files.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path

from ._errors import CacheError, UnknownDatasetError
from ._stamps import _read_stamp, _stamp_is_fresh
from .paths import cache_dir

MIRROR_ENV = "SEEING_SAYING_MIRROR"
REGISTRY_FILE = Path(__file__).with_name("registry.toml")


class RegistryError(OSError):
    """The registry file cannot be used: not valid TOML, an unknown key, a value of the wrong type or form.

    The message is one line: the file, the entry, the field and what was expected. An OSError, like a registry
    file that cannot be read, so every command of `python -m helpers` reports it in one line.
    """


def _is_hex(n: int):
    return lambda v: isinstance(v, str) and re.fullmatch(f"[0-9a-fA-F]{{{n}}}", v) is not None


def _is_relpath(v) -> bool:  # inside the dataset's folder: relative, no '.', '..' or empty part, no '\\' or control
    return isinstance(v, str) and all(p.strip(".") for p in v.split("/")) and not re.search(r"[\\\x00-\x1f\x7f]", v)


def _is_format(v) -> bool:  # `manual`: {folder} is its only placeholder
    try:
        return isinstance(v, str) and isinstance(v.format(folder=""), str)
    except (KeyError, IndexError, ValueError):
        return False


_STR = (lambda v: isinstance(v, str), "text")
_NAME = (  # a dataset's name is its folder's name in the cache
    lambda v: isinstance(v, str) and re.fullmatch(r"[a-z0-9][a-z0-9._-]*", v) is not None,
    "one folder name: lower-case letters, digits, '.', '_' or '-', starting with a letter or digit",
)
_NOPART = "relative, no '.', '..' or empty part, no control characters"
# {field: (check, what it must be)}: the keys a [[<name>.files]] entry and a [<name>] table may have
_FILE_KEYS = {
    "filename": (lambda v: _is_relpath(v) and "/" not in v, "a file name (no '/', no '..', no control characters)"),
    "urls": (
        lambda v: (
            isinstance(v, (list, tuple))
            and all(isinstance(u, str) and re.fullmatch(r"https?://[^\s\x00-\x1f\x7f]+", u) for u in v)
        ),
        "a list of http:// or https:// URLs (no spaces or control characters)",
    ),
    "sha256": (_is_hex(64), "64 hex digits (no 'sha256:' prefix)"),
    "size": (
        lambda v: type(v) is int and 1 <= v <= 10**12,
        "a whole number of bytes >= 1 and at most 10**12 (or no size)",
    ),
    "md5": (_is_hex(32), "32 hex digits"),
    "extract": (_is_relpath, f"a folder inside the dataset's folder ({_NOPART})"),
    "approx": _STR,
    "checksum_source": _STR,
    "path": (_is_relpath, f"a path inside the dataset's folder ({_NOPART})"),
}
_KINDS = ("captions", "classes", "vectors", "features+captions", "weights")
_ENTRY_KEYS = {
    "title": _STR,
    "kind": (lambda v: v in _KINDS, f"one of {', '.join(_KINDS)}"),
    "license": _STR,
    "citation": _STR,
    "bibkey": _STR,
    "homepage": _STR,
    "manual": (_is_format, "text whose only placeholder is {folder}"),
    "notes": _STR,
    "splits": (lambda v: isinstance(v, (list, tuple)) and all(isinstance(x, str) for x in v), "a list of names"),
    "torchvision": (
        lambda v: isinstance(v, (list, tuple)) and len(v) == 3 and all(isinstance(x, str) and x for x in v),
        "[model function, weights enum, member], e.g. ['resnet152', 'ResNet152_Weights', 'IMAGENET1K_V2']",
    ),
}


_OPTIONAL = ("sha256", "size", "md5", "extract", "path", "torchvision")  # None: not given


def _shown(v) -> str:
    text = repr(v) if len(repr(v)) <= 80 else repr(v)[:77] + "..."
    return text + (" (text)" if isinstance(v, str) and v.strip("-+0123456789") == "" else "")


def _bad(keys: dict, values: dict) -> str:
    """'' when every value is what `keys` says it must be, else the first that is not, in words."""
    for key, value in values.items():
        if key in keys and not keys[key][0](value):
            return f"{key} must be {keys[key][1]}, not {_shown(value)}"
    return ""


def _clash(resources) -> str:
    """'' when a dataset's files have their own filenames, paths and extract folders, none inside another's."""
    names = [n for r in resources for n in {r.filename, r.relpath}]
    if dup := next((n for n in names if names.count(n) > 1), None):
        return f"filename/path {dup!r} is given to two files; each file needs its own"
    folders = [r.extract for r in resources if r.extract]
    for i, e in enumerate(folders):
        if e in folders[i + 1 :]:
            return f"extract {e!r} is given to two files; each archive needs a folder of its own"
        inside = (r.relpath for r in resources if f"{e}/".startswith(f"{r.relpath}/") or r.relpath.startswith(f"{e}/"))
        if p := next(inside, None):
            return f"path {p!r} and extract {e!r} overlap (one is or holds the other); give the archive its own folder"
    return ""


def _check(obj, keys: dict, where: str) -> None:
    """RegistryError for the first field of a `Resource` / `Dataset` whose value is not what `keys` says."""
    given = {f.name: getattr(obj, f.name) for f in fields(obj)}
    if problem := _bad(keys, {k: v for k, v in given.items() if v is not None or k not in _OPTIONAL}):
        raise RegistryError(f"{where}: {problem}")


@dataclass(frozen=True)
class Resource:
    """One file of a dataset.

    `sha256=None` means no checksum has been published or checked yet: the file is checked by `md5` (a
    published MD5, where there is one) and `size` (exact bytes, where known), and its sha256 is pinned on
    first download. `extract` names the folder (inside the dataset's folder) an archive unpacks to.
    `path` is where the file lives inside the dataset's folder (default: `filename`). RegistryError (one line)
    for a field of the wrong type or form (`_FILE_KEYS` says what each must be).
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

    def __post_init__(self):
        """RegistryError (one line) for a field of the wrong type or form; hex digests are kept in lower case."""
        _check(self, _FILE_KEYS, f"the registry's file {self.filename!r}")
        object.__setattr__(self, "urls", tuple(self.urls))
        for algo in ("sha256", "md5"):
            if getattr(self, algo):
                object.__setattr__(self, algo, getattr(self, algo).lower())

    @property
    def relpath(self) -> str:
        return self.path or self.filename


@dataclass(frozen=True)
class Dataset:
    """A dataset of the registry: its files, where it comes from, and the terms it comes with.

    `resource(filename)` is the `Resource` of one of its files (by file name or path); KeyError for another.
    RegistryError (one line) for a field of the wrong type or form (`_ENTRY_KEYS` says what each must be).
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

    def __post_init__(self):
        """RegistryError (one line) for a field of the wrong type or form."""
        _check(self, {"name": _NAME, **_ENTRY_KEYS}, f"the registry's entry {self.name!r}")
        if not all(isinstance(r, Resource) for r in self.resources):
            raise RegistryError(f"the registry's entry {self.name!r}: resources must be Resource objects")
        if problem := _clash(self.resources):
            raise RegistryError(f"the registry's entry {self.name!r}: {problem}")

    def resource(self, filename: str) -> Resource:
        for r in self.resources:
            if filename in (r.filename, r.relpath):
                return r
        raise KeyError(f"{self.name} has no file {filename!r}; its files: {[r.filename for r in self.resources]}")


def _tuples(entry: dict) -> dict:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in entry.items()}


def _unknown(table: dict, known, where: str) -> None:
    for key in table:
        if key not in known:
            close = difflib.get_close_matches(key, list(known), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise RegistryError(
                f"{where}: unknown key {key!r} ({hint}known: {', '.join(known)}); correct it in that file"
            )


def _entry(path: Path, name: str, entry) -> Dataset:
    """The `Dataset` of one [name] table of a registry file, every key and value checked (RegistryError)."""
    where = f"{path}: [{name}]"
    if not _NAME[0](name):
        raise RegistryError(f"{path}: [{name!r}]: the name must be {_NAME[1]}; correct it in that file")
    if not isinstance(entry, dict):
        raise RegistryError(f"{where} must be a table ([{name}] with title, kind, ... and [[{name}.files]])")
    _unknown(entry, [*_ENTRY_KEYS, "files"], where)
    missing = [k for k in ("title", "kind", "license", "citation") if not entry.get(k)]
    files = entry.get("files")
    if missing or not files:
        needs = ", ".join(missing or [f"at least one [[{name}.files]] entry"])
        raise RegistryError(f"{where} needs {needs}; add it to that file")
    if not (isinstance(files, list) and all(isinstance(r, dict) for r in files)):
        raise RegistryError(f"{where}: files must be [[{name}.files]] tables, not {_shown(files)}")
    resources = []
    for i, r in enumerate(files, 1):
        spot = f"{where} file {i}" + (f" ({r['filename']!r})" if isinstance(r.get("filename"), str) else "")
        _unknown(r, _FILE_KEYS, spot)
        if "filename" not in r:
            raise RegistryError(f"{spot} needs a filename; add it to that file")
        if "sha256" in r and "size" not in r:
            raise RegistryError(f"{spot}: a sha256 comes with its size (in bytes); add it to that file")
        if not (r.get("urls") or entry.get("manual")):
            raise RegistryError(f"{spot} needs urls (or the entry needs 'manual': how to get the file by hand)")
        if problem := _bad(_FILE_KEYS, r):
            raise RegistryError(f"{spot}: {problem}; correct it in that file")
        resources.append(Resource(**_tuples(r)))
    if problem := _clash(resources):
        raise RegistryError(f"{where}: {problem}; correct it in that file")
    if problem := _bad(_ENTRY_KEYS, entry):
        raise RegistryError(f"{where}: {problem}; correct it in that file")
    return Dataset(name=name, resources=tuple(resources), **_tuples({k: v for k, v in entry.items() if k != "files"}))


def load_registry(path: Path = REGISTRY_FILE) -> dict:
    """{name: `Dataset`} from a registry TOML file (`helpers/registry.toml` by default), in file order.

    Every table, key and value is checked: RegistryError (one line: the file, the entry, the field, what was
    expected) for a file that cannot be read or is not valid TOML, an unknown key, a missing title, kind,
    license, citation or file, or a value of the wrong type or form (sha256: 64 hex digits, md5: 32, size: bytes
    >= 1 and <= 10**12, urls: http(s) URLs, paths inside the dataset's folder, a name that is one folder
    name, no two files with the same filename, path or extract folder, no file inside an extract folder).
    """
    try:
        with open(path, "rb") as f:
            table = tomllib.load(f)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        why = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise RegistryError(f"the dataset registry {path} cannot be read: {why}; fix or restore that file") from None
    return {name: _entry(Path(path), name, entry) for name, entry in table.items()}


class _Unusable(dict):
    """REGISTRY when `helpers/registry.toml` cannot be used: every look-up raises its RegistryError, so that
    `import helpers.download` works and each command says what is wrong in one line, not with a traceback."""

    def __init__(self, error: RegistryError):
        super().__init__()
        self.error = str(error)

    def _raise(self, *args, **kwargs):
        raise RegistryError(self.error)

    __iter__ = __contains__ = __getitem__ = __setitem__ = __len__ = keys = items = values = get = _raise


def _registry_or_error(path: Path = REGISTRY_FILE) -> dict:
    """`load_registry(path)`, or a registry whose every look-up raises the RegistryError it gave."""
    try:
        return load_registry(path)
    except RegistryError as e:
        return _Unusable(e)


REGISTRY: dict = _registry_or_error()


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
    blocker = next((p for p in (path, *path.parents) if not p.is_dir() and (p.exists() or p.is_symlink())), path)
    what = "a link to nothing" if blocker.is_symlink() and not blocker.exists() else "a file"
    env = os.environ.get("SEEING_SAYING_CACHE")
    if env and blocker in (Path(env).expanduser(), *Path(env).expanduser().parents):
        return CacheError(
            f"the cache folder SEEING_SAYING_CACHE={env} cannot be made: {blocker} is {what}. "
            "Set SEEING_SAYING_CACHE to a folder (or move that file away) and try again"
        )
    return CacheError(f"{blocker} is {what} where a folder of the cache belongs: move it away and try again")


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
