"""The real datasets of the seeds: one registry, checksummed downloads, safe extraction.

`REGISTRY` names every dataset the seeds used, with its files, URLs, sha256, sizes, license and citation.
`fetch(name)` brings a dataset into the cache folder, `cache_dir("downloads")/<name>/` (the cache folder is
`$SEEING_SAYING_CACHE` or `<repo>/.cache`), and unpacks its archives:

- downloads go through `pooch` (`pooch.retrieve` with a downloader that keeps a `<file>.part` and resumes it
  with an HTTP Range request after an interruption, or restarts cleanly when the server ignores Range);
- pooch checks the sha256 AFTER the download, on a temporary file, and only then renames it into place,
  so a file under its final name is always complete and verified;
- a lock file (`<file>.lock`, `filelock`) makes a second notebook wait for the first one's download;
- when every URL fails (offline, dead host, wrong checksum) `DownloadError` says, in one message, which URLs
  were tried, the file name, size and checksum expected, and where to put a copy by hand;
- archives are unpacked by `helpers.extract.safe_extract` (re-exported here) into a temporary folder, member
  by member, refusing absolute paths, `..` and every link member, checked again, then renamed into place.

Checksums: where no sha256 has been published or checked for a file, the registry says `sha256=None` and
the download is checked by the published MD5 (where there is one) and the size (where known). Its sha256 is
then pinned (`<file>.verified.json` next to it, with the file's size and mtime) only when the download is
confirmed: by that MD5, the registry's size, or a Content-Length (or Content-Range total) the body matched.
A body whose size nobody declared is kept but not pinned. A pin lives and dies with its file: a stamp whose
file is gone, or whose size or mtime changed, is dropped, never held against a new copy.

Interruptions: Ctrl-C keeps only what its one line says (the `.part`, complete or not, or nothing); pooch's
temporary files live in `.<file>.downloading/` and half-unpacked folders are `.<folder>.unpacking-<pid>`,
both removed by the next fetch under the file's lock after a kill -9.

Instructors: `python -m helpers fetch NAME` ahead of class; `SEEING_SAYING_MIRROR` (a folder or a base
URL holding the files, flat or in `<name>/` subfolders) is tried before the original hosts.
"""
from __future__ import annotations

import difflib
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from ._resumable import CHUNK, TIMEOUT, ResumableDownloader, _note  # noqa: F401 (re-exported)
from ._stamps import (_current_stamp, _hash_file, _how, _load_stamp, _read_stamp, _stamp_is_fresh, _stamp_path,
                      _write_stamp)
from .extract import (MARKER, ArchiveError, DiskFullError, UnsafeArchiveError, archive_kind, remove_stale_unpacking,
                      safe_extract)
from .paths import cache_dir

MIRROR_ENV = "SEEING_SAYING_MIRROR"


from ._errors import CacheError, ChecksumError, DownloadError, UnknownDatasetError  # noqa: E402,F401


# ---------------------------------------------------------------------------------------------- registry
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
    """A dataset of the registry: its files, where it comes from, and the terms it comes with."""
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


_TFDS = "tensorflow/datasets url_checksums (coco.txt, coco_captions.txt)"
_SPANISH_SHARE = "https://drive.google.com/drive/folders/1RzGYR2uqMRS4WqX_wqIiI2Y_NdNAey1m"


def _spanish_resources() -> tuple:
    out = []
    for phase, n in (("train", 20000), ("test_A", 1000), ("test_B", 1000), ("test_C", 1000)):
        out.append(Resource(f"{phase}_images_names.txt", path=f"{phase}/{phase}_images_names.txt"))
        # raw float32, N x 2048: the size follows from the image counts seed 000 printed
        out.append(Resource(f"{phase}_images_vectors.bin", path=f"{phase}/{phase}_images_vectors.bin",
                            size=n * 2048 * 4, approx=f"{n * 2048 * 4 / 1e6:.0f} MB",
                            checksum_source="size = images x 2048 x 4 bytes (seed 000's output)"))
        out.append(Resource(f"{phase}_captions.txt", path=f"{phase}/{phase}_captions.txt"))
    return tuple(out)


def _torchvision_resource(url: str, approx: str) -> tuple:
    """A torchvision weight file (the URL torchvision's weights enum names; a test checks they agree)."""
    return (Resource(url.rsplit("/", 1)[-1], (url,), approx=approx, checksum_source=(
        "the 8 hex digits in the file name are the start of its sha256; torch.hub checks them (check_hash=True)")),)


REGISTRY: dict = {}


def _register(ds: Dataset) -> None:
    REGISTRY[ds.name] = ds


_register(Dataset(
    "coco", "MS-COCO 2014: captions, images and the Karpathy split", "captions",
    (
        Resource("annotations_trainval2014.zip",
                 ("http://images.cocodataset.org/annotations/annotations_trainval2014.zip",),
                 "031296bbc80c45a1d1f76bf9a90ead27e94e99ec629208449507a4917a3bf009", 252872794,
                 extract="annotations", approx="253 MB", checksum_source=_TFDS),
        Resource("caption_datasets.zip",
                 ("https://cs.stanford.edu/people/karpathy/deepimagesent/caption_datasets.zip",
                  "https://huggingface.co/datasets/gpantaz/karpathy_split/resolve/main/caption_datasets.zip"),
                 "4cfd70132527b80933105e5829dc9034eaab9573482e2e680abbab6130244817", 36745453,
                 extract="karpathy", approx="37 MB", checksum_source=_TFDS),
        Resource("train2014.zip", ("http://images.cocodataset.org/zips/train2014.zip",),
                 "ede4087e640bddba550e090eae701092534b554b42b05ac33f0300b984b31775", 13510573713,
                 extract="train2014", approx="13.5 GB", checksum_source=_TFDS),
        Resource("val2014.zip", ("http://images.cocodataset.org/zips/val2014.zip",),
                 "fe9be816052049c34717e077d9e34aa60814a55679f804cd043e3cbee3b9fde0", 6645013297,
                 extract="val2014", approx="6.6 GB", checksum_source=_TFDS),
    ),
    license=("annotations: CC BY 4.0 (COCO Consortium); images: Flickr terms of use, see "
             "https://cocodataset.org/#termsofuse; Karpathy split file: no license stated, derived from the "
             "COCO annotations"),
    citation=("Lin et al., Microsoft COCO: Common Objects in Context, ECCV 2014; Karpathy & Fei-Fei, Deep "
              "Visual-Semantic Alignments for Generating Image Descriptions, CVPR 2015 (the split)"),
    bibkey="lin2014coco", homepage="https://cocodataset.org",
    notes=("splits: Karpathy 'train' (train + restval, 113,287 images), 'val' and 'test' (5,000 each); "
           "'test_A'/'test_B'/'test_C' are the first/second/third 1,000 images of the Karpathy test split; "
           "'train2014'/'val2014' are the official splits (captions from annotations_trainval2014.zip)"),
    splits=("train", "val", "test", "test_A", "test_B", "test_C", "restval", "train2014", "val2014"),
))

_register(Dataset(
    "coco-spanish", "COCO-2014-Spanish, as seed 000 used it (captions + precomputed ResNet152 vectors)",
    "features+captions", _spanish_resources(),
    license=("not stated on the share; derived from COCO (annotations CC BY 4.0, images under Flickr terms); "
             "ask the share's authors before redistributing"),
    citation="COCO-2014-Spanish files of seed 000 ('Buscador de imágenes por descripción'); Lin et al. 2014 for COCO",
    bibkey="lin2014coco", homepage=_SPANISH_SHARE,
    manual=(f"These files live on a Google Drive share ({_SPANISH_SHARE}), which cannot be downloaded "
            "automatically. Download the folder and put its phase folders (train/, test_A/, test_B/, test_C/, "
            "each with <phase>_images_names.txt, <phase>_images_vectors.bin and <phase>_captions.txt) into "
            "{folder} (or pass root=<folder> to the loader)."),
    notes=("<phase>_images_vectors.bin is raw float32, N x 2048 (ResNet152 pooled features, in the order of "
           "<phase>_images_names.txt); <phase>_captions.txt has 'image name<TAB>caption' lines. Splits: "
           "'train' = the first 19,000 images of the train phase, 'val' = its last 1,000 (seed 000 had no "
           "validation split), 'train_full' = all 20,000, 'test_A'/'test_B'/'test_C' as distributed"),
    splits=("train", "val", "train_full", "test_A", "test_B", "test_C"),
))

_register(Dataset(
    "flickr8k", "Flickr8k: 8,091 images with 5 captions each", "captions",
    (
        Resource("Flickr8k_Dataset.zip",
                 ("https://github.com/jbrownlee/Datasets/releases/download/Flickr8k/Flickr8k_Dataset.zip",),
                 None, None, md5="f18a1e2920de5bd84dae7cf08ec78978", extract="Flicker8k_Dataset",
                 approx="1.1 GB", checksum_source="MD5 from mlverse/torchvision (R) flickr8k_dataset"),
        Resource("Flickr8k_text.zip",
                 ("https://github.com/jbrownlee/Datasets/releases/download/Flickr8k/Flickr8k_text.zip",),
                 None, None, md5="bf6c1abcb8e4a833b7f922104de18627", extract="Flickr8k_text",
                 approx="2.3 MB", checksum_source="MD5 from mlverse/torchvision (R) flickr8k_dataset"),
    ),
    license=("images: Flickr, under their owners' terms; captions: for research use (Hodosh et al.); the "
             "GitHub release is an unofficial mirror of the original distribution (a request form at the "
             "University of Illinois)"),
    citation=("Hodosh, Young & Hockenmaier, Framing Image Description as a Ranking Task: Data, Models and "
              "Evaluation Metrics, JAIR 47, 2013"),
    bibkey="hodosh2013flickr8k", homepage="https://hockenmaier.cs.illinois.edu/8k-pictures.html",
    notes="splits from Flickr_8k.{train,dev,test}Images.txt: 'train' 6,000, 'val' (dev) 1,000, 'test' 1,000",
    splits=("train", "val", "test", "test_A", "all"),
))

_register(Dataset(
    "tiny-imagenet", "Tiny ImageNet: 200 classes, 64x64 images", "classes",
    (Resource("tiny-imagenet-200.zip", ("http://cs231n.stanford.edu/tiny-imagenet-200.zip",), None, None,
              md5="90528d7ca1a48142e341f4ef8d21d0de", extract="tiny-imagenet-200", approx="237 MB",
              checksum_source="MD5 hard-coded in several public TinyImageNet loaders"),),
    license="ImageNet terms of access: non-commercial research and education only (https://image-net.org)",
    citation="Le & Yang, Tiny ImageNet Visual Recognition Challenge, CS231N, Stanford, 2015",
    bibkey="le2015tiny", homepage="https://cs231n.stanford.edu",
    notes="'train': 500 images per class (100,000); 'val': 50 per class (10,000); the test split has no labels",
    splits=("train", "val"),
))

_register(Dataset(
    "fasttext-crawl-en", "fastText English vectors, Common Crawl, 2M words x 300 (seed 001)", "vectors",
    (Resource("crawl-300d-2M.vec.zip",
              ("https://dl.fbaipublicfiles.com/fasttext/vectors-english/crawl-300d-2M.vec.zip",),
              None, None, extract="crawl-300d-2M", approx="1.5 GB (4.5 GB unpacked)"),),
    license="CC BY-SA 3.0 (https://fasttext.cc/docs/en/english-vectors.html)",
    citation="Mikolov et al., Advances in Pre-Training Distributed Word Representations, LREC 2018",
    bibkey="mikolov2018advances", homepage="https://fasttext.cc/docs/en/english-vectors.html",
    notes="word2vec text format with a header line; load with load_vectors('fasttext-crawl-en', limit=...)",
))

_register(Dataset(
    "fasttext-sbwc", "Spanish fastText vectors from the SBWC, 855,380 x 300 (seed 000)", "vectors",
    (Resource("fasttext-sbwc.vec.gz", ("http://dcc.uchile.cl/~jperez/word-embeddings/fasttext-sbwc.vec.gz",),
              None, None, approx="802 MB"),),
    license="CC BY 4.0 (https://github.com/dccuchile/spanish-word-embeddings)",
    citation=("Pérez, Spanish word embeddings (github.com/dccuchile/spanish-word-embeddings); Bojanowski et "
              "al. 2017 (fastText); Cardellino, Spanish Billion Words Corpus and Embeddings, 2016"),
    bibkey="bojanowski2017fasttext", homepage="https://github.com/dccuchile/spanish-word-embeddings",
    notes="word2vec text format with a header, gzip-compressed (read as is, no unpacking)",
))

_register(Dataset(
    "glove-sbwc", "Spanish GloVe vectors from the SBWC, 855,380 x 300 (seed 000)", "vectors",
    (Resource("glove-sbwc.i25.vec.gz", ("http://dcc.uchile.cl/~jperez/word-embeddings/glove-sbwc.i25.vec.gz",),
              None, None, approx="906 MB"),),
    license="CC BY 4.0 (https://github.com/dccuchile/spanish-word-embeddings)",
    citation=("Pérez, Spanish word embeddings (github.com/dccuchile/spanish-word-embeddings); Pennington et "
              "al. 2014 (GloVe); Cardellino, Spanish Billion Words Corpus and Embeddings, 2016"),
    bibkey="pennington2014glove", homepage="https://github.com/dccuchile/spanish-word-embeddings",
    notes="word2vec text format with a header (converted from GloVe), gzip-compressed",
))

_TV = "https://download.pytorch.org/models/"
for _name, _func, _enum, _member, _url, _approx, _seed in (
        ("resnet152", "resnet152", "ResNet152_Weights", "IMAGENET1K_V2", _TV + "resnet152-f82ba261.pth", "230 MB",
         "seed 000's image features"),
        ("vgg16", "vgg16", "VGG16_Weights", "IMAGENET1K_V1", _TV + "vgg16-397923af.pth", "528 MB", "VGG16"),
        ("vgg16_bn", "vgg16_bn", "VGG16_BN_Weights", "IMAGENET1K_V1", _TV + "vgg16_bn-6c64b313.pth", "528 MB",
         "seed 001's backbone")):
    _register(Dataset(
        _name, f"torchvision {_func} ImageNet weights ({_enum}.{_member}; {_seed})", "weights",
        _torchvision_resource(_url, _approx),
        license="BSD-3-Clause (torchvision); trained on ImageNet (non-commercial research terms)",
        citation=("He et al., Deep Residual Learning, CVPR 2016" if _func.startswith("resnet") else
                  "Simonyan & Zisserman, Very Deep Convolutional Networks, ICLR 2015"),
        bibkey="he2016resnet" if _func.startswith("resnet") else "simonyan2015vgg",
        homepage="https://pytorch.org/vision/stable/models.html",
        notes="downloaded by torchvision itself into torch.hub.get_dir()/checkpoints; see torchvision_model()",
        torchvision=(_func, _enum, _member)))


def get_dataset(name: str) -> Dataset:
    """The registry entry of `name`, or an `UnknownDatasetError` listing the known names."""
    key = str(name).strip().lower()
    for k in (name, key, key.replace("_", "-"), key.replace("-", "_")):
        if k in REGISTRY:
            return REGISTRY[k]
    if name == "embedded":
        raise UnknownDatasetError("'embedded' is built, not downloaded: python -m helpers build")
    close = difflib.get_close_matches(key, list(REGISTRY), n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
    raise UnknownDatasetError(f"unknown dataset {name!r}.{hint} Known datasets: {', '.join(REGISTRY)} "
                              "(and 'embedded', the book's own).")


def _blocked(path: Path) -> CacheError:
    """The error for a path whose folder cannot be made: the first file that stands where a folder belongs."""
    path = Path(path)
    blocker = next((p for p in (path, *path.parents) if p.exists() and not p.is_dir()), path)
    env = os.environ.get("SEEING_SAYING_CACHE")
    if env and blocker in (Path(env).expanduser(), *Path(env).expanduser().parents):
        return CacheError(f"the cache folder SEEING_SAYING_CACHE={env} cannot be made: {blocker} is a file. "
                          "Set SEEING_SAYING_CACHE to a folder (or move that file away) and try again")
    return CacheError(f"{blocker} is a file where a folder of the cache belongs: move it away and try again")


def _mkdirs(path: Path) -> Path:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as e:
        raise _blocked(Path(e.filename or path)) from None
    return path


def dataset_dir(name: str, create: bool = True) -> Path:
    """The folder a registry dataset is kept in: `cache_dir("downloads")/<name>` (created unless `create=False`).

    `CacheError` (one line) when a file stands where the cache folder or one of its folders belongs."""
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


def verify_file(ds: Dataset, res: Resource, path: Path, force: bool = False) -> str:
    """Check a file against the registry (sha256, else md5 and size); returns its sha256.

    The result is remembered in `<file>.verified.json` (with size and modification time), so a 13 GB
    archive is hashed once, not at every use. A file the registry knows nothing about (no checksum, no size)
    is accepted but its sha256 is not pinned: nothing confirms it is complete.
    """
    path = Path(path)
    stamp = _current_stamp(path)
    pin = stamp["sha256"] if stamp and stamp.get("pinned", True) and not res.sha256 else None
    if stamp and not force:
        if res.sha256 is None or stamp["sha256"] == res.sha256.lower():
            return stamp["sha256"]
    size = path.stat().st_size
    if size == 0:
        raise ChecksumError(f"{path} is empty: delete it and fetch again (python -m helpers fetch {ds.name})")
    if res.size is not None and size != res.size:
        raise ChecksumError(f"{path} has {size:,} bytes but {res.filename} has {res.size:,}: an incomplete or "
                            f"different file. Delete it and fetch again (python -m helpers fetch {ds.name}).")
    want = res.sha256.lower() if res.sha256 else pin
    digests = _hash_file(path, ("sha256", "md5"))
    if want and digests["sha256"] != want:
        raise ChecksumError(f"{path}: sha256 {digests['sha256']} but expected {want} for {res.filename}. The file "
                            f"is damaged or not the registered one: delete it and fetch again "
                            f"(python -m helpers fetch {ds.name}).")
    if not want and res.md5 and digests["md5"] != res.md5.lower():
        raise ChecksumError(f"{path}: md5 {digests['md5']} but expected {res.md5} for {res.filename}. Delete it "
                            f"and fetch again (python -m helpers fetch {ds.name}).")
    how, pinned = _how(res, False, bool(pin))
    if not want and pinned:
        _note(f"{res.filename}: checksum unknown in the registry; pinned sha256 {digests['sha256']} on first use "
              f"(put it in helpers/download.py to check every copy).")
    elif not pinned:
        _note(f"{res.filename}: neither a checksum nor the size is known, so nothing confirms this copy is complete; "
              "kept, not pinned (if it turns out damaged, delete it and fetch again).")
    _write_stamp(path, digests["sha256"], how, pinned)
    return digests["sha256"]


# --------------------------------------------------------------------------------------------- download
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


def manual_instructions(ds: Dataset, res: Resource | None = None) -> str:
    """How to put a dataset's file(s) in place by hand (what an instructor does before class)."""
    folder = dataset_dir(ds.name, create=False)
    if ds.manual:
        return ds.manual.format(folder=folder)
    res = res or ds.resources[0]
    only = f" --files {res.filename}" if len(ds.resources) > 1 else ""
    return (f"To place it by hand (e.g. a copy an instructor downloaded): copy {res.filename} to\n"
            f"    {folder / res.relpath}\n"
            f"then run `python -m helpers fetch {ds.name}{only}` to verify it{' and unpack it' if res.extract else ''}. "
            f"A classroom can also set {MIRROR_ENV} to a folder or URL that holds the files.")


def _lock(path: Path):
    from filelock import FileLock
    return FileLock(str(path) + ".lock")


class _Locked:
    """Hold `<target>.lock`; say so when another process holds it (a second notebook waits, then reuses)."""

    def __init__(self, target: Path):
        self.lock, self.target = _lock(target), target

    def __enter__(self):
        from filelock import Timeout
        try:
            self.lock.acquire(timeout=0.2)
        except Timeout:
            _note(f"waiting for another process that is fetching {self.target.name} ...")
            self.lock.acquire()
        return self

    def __exit__(self, *exc):
        self.lock.release()


def _staging(target: Path) -> Path:
    """The folder pooch downloads and hashes in (its temporary files have no recognisable name of their own)."""
    return target.with_name(f".{target.name}.downloading")


def _tidy(target: Path) -> None:
    """Under the file's lock: remove what a killed fetch left (pooch's temporaries, a stamp's temporary file)."""
    shutil.rmtree(_staging(target), ignore_errors=True)
    for tmp in target.parent.glob(f".{_stamp_path(target).name}.*.tmp"):
        tmp.unlink(missing_ok=True)


def _retrieve(url: str, want: str | None, target: Path, downloader: ResumableDownloader) -> None:
    """pooch downloads into `.<file>.downloading/` and checks the sha256; the file is then renamed into place."""
    import pooch
    staging, log = _staging(target), pooch.get_logger()
    level = log.level
    log.setLevel("WARNING")  # its lines would name the staging folder; ours names the file
    _note(f"Downloading {url} to {target}")
    try:
        got = pooch.retrieve(url, known_hash=f"sha256:{want}" if want else None, fname=target.name, path=staging,
                             downloader=downloader, progressbar=False)
        os.replace(got, target)
        downloader.part.unlink(missing_ok=True)  # the second name of the file just put in place
    finally:
        log.setLevel(level)
        shutil.rmtree(staging, ignore_errors=True)


def _kept(target: Path, part: Path, res: Resource) -> str:
    """What an interrupted download left, in words (read from the disk, so it is what is there)."""
    if target.is_file():
        return f"{target.name} is in place; the next fetch checks it"
    if not part.is_file():
        return f"nothing of {res.filename} was kept"
    n = part.stat().st_size
    if res.size is not None and n == res.size:
        return f"kept the complete download {part} ({n:,} bytes): the next fetch checks it without downloading it again"
    return f"kept the partial download {part} ({n:,} bytes): the next fetch resumes it"


def fetch_file(name: str, filename: str | None = None, progress: bool = True) -> Path:
    """Download (if needed) and verify one file of a registry dataset; returns its path in the cache.

    A file already in place is verified (once: see `verify_file`); a missing one is downloaded from the
    mirror (if `SEEING_SAYING_MIRROR` is set) and then from each registry URL in turn. If none works, one
    `DownloadError` names the URLs and what went wrong, the file expected and how to place it by hand.
    A download that resumed a `.part` and then fails its checks is tried once more from zero.
    """
    import requests

    ds = get_dataset(name)
    res = ds.resource(filename) if filename else ds.resources[0]
    target = dataset_dir(ds.name) / res.relpath
    _mkdirs(target.parent)
    part = target.with_name(target.name + ".part")
    with _Locked(target):
        _tidy(target)
        if target.exists() or target.is_symlink():
            if not target.is_file():
                raise CacheError(f"{target} is not a file (a folder?) where {res.filename} belongs: move it away "
                                 "and fetch again")
            verify_file(ds, res, target)
            part.unlink(missing_ok=True)  # left by a kill between the rename and its removal
            return target
        _current_stamp(target)  # its file is gone: the pin goes with it
        if ds.manual or not res.urls:
            raise DownloadError(f"{ds.name}: {res.relpath} is not in {dataset_dir(ds.name, create=False)}.\n"
                                + manual_instructions(ds, res))
        want = res.sha256.lower() if res.sha256 else None
        errors = []
        for url in _candidate_urls(ds, res):
            for again in (False, True):
                downloader = ResumableDownloader(part, res.size, None if want else res.md5, progress)
                try:
                    _retrieve(url, want, target, downloader)
                except KeyboardInterrupt:
                    _note(f"interrupted: {_kept(target, part, res)}")
                    raise
                except ValueError as e:  # ChecksumError (size, md5), pooch's sha256 mismatch; not requests' own
                    if isinstance(e, requests.RequestException):
                        errors.append(f"{url}\n      -> {_short(e)} ({type(e).__name__})")
                        break
                    part.unlink(missing_ok=True)
                    if downloader.resumed_from and not again:
                        _note(f"{res.filename}: the download that continued {part.name} ({downloader.resumed_from:,} "
                              "bytes kept earlier) failed its check; downloading it again from zero")
                        continue
                    errors.append(f"{url}\n      -> wrong file: {str(e).split('. Deleted')[0]}")
                    break
                except Exception as e:  # requests / OS errors: offline, dead host, 404, refused, timeout
                    errors.append(f"{url}\n      -> {_short(e)} ({type(e).__name__})")
                    break
                how, pinned = _how(res, downloader.size_confirmed)
                _write_stamp(target, downloader.sha256 or want, how, pinned)
                if pinned and not want:
                    _note(f"{res.filename}: downloaded; the registry has no sha256 for it, so this machine pinned sha256 "
                          f"{downloader.sha256} (checked: {how.split(',')[0]}; the pin lasts while this file is here).")
                elif not pinned:
                    _note(f"{res.filename}: downloaded, but no Content-Length confirmed its size and the registry has "
                          "neither size nor checksum: kept, not pinned (if it turns out damaged, delete it and fetch "
                          "again).")
                return target
        kept = (f"\nPartial download kept: {part} ({part.stat().st_size:,} bytes); the next fetch resumes it."
                if part.exists() else "")
        raise DownloadError(
            f"Could not download {res.filename} for dataset '{ds.name}' ({ds.title}).\nTried:\n  "
            + "\n  ".join(errors)
            + f"\nExpected: {_describe(ds, res)}{kept}\n" + manual_instructions(ds, res)) from None


def _short(e: Exception) -> str:
    """A one-line reason: 'no network (could not resolve cs.stanford.edu)', 'HTTP 404 Not Found', ..."""
    import requests
    from urllib.parse import urlparse
    text = str(e).replace("\n", " ")
    if isinstance(e, requests.HTTPError) and e.response is not None:
        return f"HTTP {e.response.status_code} {e.response.reason}"
    if isinstance(e, requests.Timeout):
        return "timed out (slow or unreachable host)"
    host = "the host"
    if getattr(e, "request", None) is not None:
        host = urlparse(e.request.url).hostname
    if "NameResolution" in text or "Name or service not known" in text or "Temporary failure in name" in text:
        return f"no network? could not resolve {host}"
    if "Connection refused" in text:
        return f"connection refused by {host}"
    if any(k in text for k in ("RemoteDisconnected", "IncompleteRead", "Connection broken", "ProtocolError")):
        return f"the connection dropped during the download ({text[:120]})"
    return text if len(text) < 240 else text[:237] + "..."


def fetch(name: str, files=None, extract: bool = True, delete_archives: bool = False, progress: bool = True) -> Path:
    """Download, verify and unpack a registry dataset (or only `files` of it); returns its folder.

    Files whose archive is already unpacked (and verified when it was) are not downloaded again, even if
    the archive was deleted to save space. Manual datasets (coco-spanish) are checked, not downloaded.
    """
    ds = get_dataset(name)
    if ds.torchvision:
        fetch_torchvision_weights(ds.name, progress=progress)
        return torchvision_weights_path(ds.name).parent
    folder = dataset_dir(ds.name)
    wanted = ds.resources if files is None else [ds.resource(f) for f in files]
    if ds.manual:
        missing = [r.relpath for r in wanted if not (folder / r.relpath).is_file()]
        if missing:
            raise DownloadError(f"{ds.name}: {len(missing)} file(s) missing from {folder}, e.g. {missing[:3]}.\n"
                                + manual_instructions(ds))
        for r in wanted:
            verify_file(ds, r, folder / r.relpath)
        return folder
    for res in wanted:
        if res.extract:
            with _Locked(folder / res.extract):
                if _ready_to_unpack(ds, res, check=extract):
                    continue
        archive = fetch_file(ds.name, res.filename, progress)
        if res.extract and extract:
            with _Locked(folder / res.extract):
                if not _ready_to_unpack(ds, res):
                    try:
                        safe_extract(archive, folder / res.extract, progress=progress,
                                     marker={"archive": res.filename, "sha256": _read_stamp(archive).get("sha256")})
                    except KeyboardInterrupt:
                        left = list(folder.glob(f".{res.extract}.unpacking-*"))
                        _note(f"interrupted while unpacking {archive.name}: " + (
                            f"{left[0].name} is left half-unpacked (the next fetch removes it)" if left else
                            "nothing unpacked was kept") + f"; {archive.name} is kept, the next fetch unpacks it")
                        raise
            if delete_archives:
                archive.unlink()
    return folder


def _ready_to_unpack(ds: Dataset, res: Resource, check: bool = True) -> bool:
    """Under the folder's lock: True if unpacked already; else removes what a killed unpacking left and
    (with `check`) raises `CacheError` when something the book did not unpack stands in the way."""
    dest = dataset_dir(ds.name) / res.extract
    if is_extracted(ds, res):
        return True
    remove_stale_unpacking(dest)
    if check and (dest.exists() or dest.is_symlink()):
        what = "folder" if dest.is_dir() else "file"
        raise CacheError(f"{dest} is a {what} without the marker {MARKER}: it was not unpacked (completely) by "
                         f"`fetch`. Move it away or delete it, then fetch {ds.name} again to unpack {res.filename}")
    return False


def is_extracted(ds: Dataset, res: Resource) -> bool:
    """True when the archive's folder exists with the marker `safe_extract` writes before renaming it in."""
    return bool(res.extract) and (dataset_dir(ds.name, create=False) / res.extract / MARKER).is_file()


# --------------------------------------------------------------------------------------------- status
def status(name: str) -> dict:
    """What of a dataset is in the cache, from file sizes and stamps only (nothing is hashed)."""
    ds = get_dataset(name)
    if ds.torchvision:
        path = torchvision_weights_path(ds.name)
        present = path is not None and path.is_file()
        return {"title": ds.title, "kind": ds.kind, "path": str(path), "license": ds.license,
                "status": "present" if present else "absent (python -m helpers fetch " + ds.name + ")"}
    folder = dataset_dir(ds.name, create=False)
    files = {}
    for res in ds.resources:
        target = folder / res.relpath
        part = target.with_name(target.name + ".part")
        if res.extract and (folder / res.extract / MARKER).is_file():
            files[res.relpath] = "unpacked"
        elif target.is_file():
            stamp, problem = _load_stamp(target)
            damaged = f" (its stamp is damaged: {problem})" if problem else ""
            files[res.relpath] = (f"verified ({stamp.get('verified_by')})" if _stamp_is_fresh(target, stamp)
                                  else f"present, not verified yet{damaged}")
        elif res.extract and (folder / res.extract).exists():
            files[res.relpath] = f"{res.extract}/ is here without the unpacking marker (move it away and fetch again)"
        elif part.is_file():
            total = f" of {res.size:,}" if res.size else ""
            files[res.relpath] = f"partial download ({part.stat().st_size:,}{total} bytes; fetch resumes it)"
        else:
            files[res.relpath] = "absent"
    states = set(files.values())
    blocker = next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), None)
    if blocker:  # a file where the dataset's folder (or one above it) belongs
        overall = f"blocked: {_blocked(folder)}"
    elif states and all(s == "unpacked" or s.startswith(("verified", "present")) for s in states):
        overall = "present"
    elif states == {"absent"}:
        overall = "absent" + (" (manual: see the notes)" if ds.manual else f" (python -m helpers fetch {ds.name})")
    else:
        overall = "partial"
    return {"title": ds.title, "kind": ds.kind, "path": str(folder), "status": overall, "files": files,
            "download": ("manual (see 'manual'); " if ds.manual else "")
            + (", ".join(f"{r.filename} {r.approx}" for r in ds.resources if r.approx) or "size unknown"),
            "license": ds.license, "citation": ds.citation, **({"manual": manual_instructions(ds)} if ds.manual else {})}


# ----------------------------------------------------------------------------------- torchvision weights
def torchvision_weights(name: str):
    """The torchvision weights enum member of a registry entry ('resnet152', 'vgg16', 'vgg16_bn')."""
    import torchvision.models as tvm
    ds = get_dataset(name)
    if not ds.torchvision:
        raise ValueError(f"{ds.name} is not a torchvision weights entry")
    _, enum, member = ds.torchvision
    return getattr(getattr(tvm, enum), member)


def torchvision_weights_path(name: str) -> Path:
    """Where torchvision keeps the weight file: `torch.hub.get_dir()/checkpoints/<file>` (TORCH_HOME moves it).

    Worked out as torch does (TORCH_HOME, else XDG_CACHE_HOME/torch, else ~/.cache/torch) so that listing
    the datasets does not import torch.
    """
    ds = get_dataset(name)
    if not ds.torchvision:
        raise ValueError(f"{ds.name} is not a torchvision weights entry")
    if "torch" in sys.modules:
        hub = Path(sys.modules["torch"].hub.get_dir())
    else:
        home = os.environ.get("TORCH_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "torch")
        hub = Path(home).expanduser() / "hub"
    return hub / "checkpoints" / ds.resources[0].filename


def fetch_torchvision_weights(name: str, progress: bool = True) -> Path:
    """Have torchvision download its weights (it checks the sha256 prefix in the file name), under a lock."""
    import torch
    path = torchvision_weights_path(name)
    url = get_dataset(name).resources[0].urls[0]
    path.parent.mkdir(parents=True, exist_ok=True)
    with _Locked(path):
        if path.is_file():
            return path
        try:
            torch.hub.load_state_dict_from_url(url, model_dir=str(path.parent), progress=progress, check_hash=True,
                                               map_location="cpu", weights_only=True)
        except Exception as e:
            raise DownloadError(
                f"Could not download the torchvision weights '{name}'.\nTried:\n  {url}\n      -> "
                f"{type(e).__name__}: {_short(e)}\nExpected: {path.name} (the 8 hex digits before '.pth' are the "
                f"start of its sha256; torchvision checks them)\nTo place it by hand: copy {path.name} to\n    {path}\n"
                "(set TORCH_HOME to move that folder), then run "
                f"`python -m helpers fetch {name}`.") from None
    return path


def torchvision_model(name: str, progress: bool = True):
    """A torchvision model with its ImageNet weights ('resnet152', 'vgg16', 'vgg16_bn'), in eval mode."""
    import torchvision.models as tvm
    fetch_torchvision_weights(name, progress)
    func, _, _ = get_dataset(name).torchvision
    return getattr(tvm, func)(weights=torchvision_weights(name)).eval()


__all__ = ["REGISTRY", "Dataset", "Resource", "get_dataset", "dataset_dir", "fetch", "fetch_file", "verify_file",
           "status", "safe_extract", "archive_kind", "is_extracted", "manual_instructions", "expected_sha256",
           "torchvision_weights", "torchvision_weights_path", "fetch_torchvision_weights", "torchvision_model",
           "DownloadError", "ChecksumError", "ArchiveError", "UnsafeArchiveError", "DiskFullError",
           "UnknownDatasetError", "CacheError", "ResumableDownloader", "MIRROR_ENV"]
