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
the download is checked by the published MD5 (where there is one) and the size (where known); its sha256
is then pinned on first download (`<file>.verified.json` next to it) and every later use checks it.

Instructors: `python -m helpers fetch NAME` ahead of class; `SEEING_SAYING_MIRROR` (a folder or a base
URL holding the files, flat or in `<name>/` subfolders) is tried before the original hosts.
"""
from __future__ import annotations

import difflib
import hashlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from .extract import MARKER, ArchiveError, DiskFullError, UnsafeArchiveError, archive_kind, safe_extract
from .paths import cache_dir

MIRROR_ENV = "SEEING_SAYING_MIRROR"
TIMEOUT = (15, 60)  # seconds: connect, read (between two chunks)
CHUNK = 1 << 20


# ------------------------------------------------------------------------------------------------ errors
class DownloadError(OSError):
    """A file could not be downloaded from any URL; the message says how to place it by hand."""


class ChecksumError(ValueError):
    """A file's sha256 / md5 / size is not the expected one."""


class UnknownDatasetError(KeyError):
    """A dataset name that is not in the registry; the message lists the known names."""

    def __str__(self):
        return str(self.args[0])


class _Incomplete(OSError):
    """The connection ended before the whole file arrived (the `.part` file is kept for resuming)."""


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


def dataset_dir(name: str, create: bool = True) -> Path:
    """The folder a registry dataset is kept in: `cache_dir("downloads")/<name>` (created unless `create=False`)."""
    if create:
        return cache_dir("downloads", get_dataset(name).name)
    return cache_dir().joinpath("downloads", get_dataset(name).name)


# ------------------------------------------------------------------------------------------------ hashing
def _hash_file(path: Path, algorithms=("sha256",)) -> dict:
    hashers = {a: hashlib.new(a, usedforsecurity=False) for a in algorithms}
    with open(path, "rb") as f:
        while True:
            block = f.read(CHUNK)
            if not block:
                break
            for h in hashers.values():
                h.update(block)
    return {a: h.hexdigest() for a, h in hashers.items()}


def _stamp_path(target: Path) -> Path:
    return target.with_name(target.name + ".verified.json")


def _read_stamp(target: Path) -> dict:
    try:
        return json.loads(_stamp_path(target).read_text())
    except (OSError, ValueError):
        return {}


def _write_stamp(target: Path, sha256: str, how: str) -> None:
    st = target.stat()
    from .formats import write_text_atomic
    write_text_atomic(_stamp_path(target), json.dumps(
        {"sha256": sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns, "verified_by": how}, indent=1))


def _stamp_is_fresh(target: Path, stamp: dict) -> bool:
    try:
        st = target.stat()
    except OSError:
        return False
    return stamp.get("size") == st.st_size and stamp.get("mtime_ns") == st.st_mtime_ns and bool(stamp.get("sha256"))


def expected_sha256(ds: Dataset, res: Resource) -> str | None:
    """The registry's sha256, else the one pinned on this machine's first download (None if neither)."""
    if res.sha256:
        return res.sha256.lower()
    pinned = _read_stamp(dataset_dir(ds.name, create=False) / res.relpath).get("sha256")
    return pinned.lower() if pinned else None


def _describe(ds: Dataset, res: Resource) -> str:
    """The expected file in one line: name, size, checksum (or why there is none)."""
    size = f"{res.size:,} bytes" if res.size else (f"about {res.approx}" if res.approx else "size unknown")
    sha = expected_sha256(ds, res)
    if sha:
        check = f"sha256 {sha}" + ("" if res.sha256 else " (pinned on this machine's first download)")
    else:
        check = "sha256 unknown (checksum unknown: verify and pin on first download)"
        if res.md5:
            check += f", md5 {res.md5}"
    return f"{res.filename} ({size}; {check})"


def verify_file(ds: Dataset, res: Resource, path: Path, force: bool = False) -> str:
    """Check a file against the registry (sha256, else md5 and size); returns its sha256.

    The result is remembered in `<file>.verified.json` (with size and modification time), so a 13 GB
    archive is hashed once, not at every use.
    """
    path = Path(path)
    stamp = _read_stamp(path)
    if not force and _stamp_is_fresh(path, stamp):
        want = res.sha256.lower() if res.sha256 else None
        if want is None or stamp["sha256"] == want:
            return stamp["sha256"]
    size = path.stat().st_size
    if size == 0:
        raise ChecksumError(f"{path} is empty: delete it and fetch again (python -m helpers fetch {ds.name})")
    if res.size is not None and size != res.size:
        raise ChecksumError(f"{path} has {size:,} bytes but {res.filename} has {res.size:,}: an incomplete or "
                            f"different file. Delete it and fetch again (python -m helpers fetch {ds.name}).")
    want = expected_sha256(ds, res)
    digests = _hash_file(path, ("sha256", "md5"))
    if want and digests["sha256"] != want:
        raise ChecksumError(f"{path}: sha256 {digests['sha256']} but expected {want} for {res.filename}. The file "
                            f"is damaged or not the registered one: delete it and fetch again "
                            f"(python -m helpers fetch {ds.name}).")
    if not want and res.md5 and digests["md5"] != res.md5.lower():
        raise ChecksumError(f"{path}: md5 {digests['md5']} but expected {res.md5} for {res.filename}. Delete it "
                            f"and fetch again (python -m helpers fetch {ds.name}).")
    how = "sha256 (registry)" if res.sha256 else ("sha256 (pinned)" if want else
                                                  ("md5 + size, sha256 pinned" if res.md5 else "size only, sha256 pinned"))
    if not want:
        _note(f"{res.filename}: checksum unknown in the registry; pinned sha256 {digests['sha256']} on first use "
              f"(put it in helpers/download.py to check every copy).")
    _write_stamp(path, digests["sha256"], how)
    return digests["sha256"]


def _note(msg: str) -> None:
    print(msg, file=sys.stderr)


# --------------------------------------------------------------------------------------------- download
def _new_hashers() -> dict:
    return {"sha256": hashlib.sha256(), "md5": hashlib.md5(usedforsecurity=False)}


class ResumableDownloader:
    """A pooch downloader: streams `url` into `<file>.part`, resuming it with a Range request.

    The `.part` file survives an interrupted download (network error, Ctrl-C) so the next call resumes;
    a server that ignores Range gets a clean restart. The size, and the MD5 where the registry has one, are
    checked on the complete `.part` (hashed while it streams) before it is handed to pooch, which checks the
    sha256 and renames the file into place.
    """

    def __init__(self, part: Path, size: int | None = None, md5: str | None = None, progress: bool = True,
                 timeout=TIMEOUT):
        self.part, self.size, self.md5, self.progress, self.timeout = Path(part), size, md5, progress, timeout
        self.sha256 = None

    def _hashers_for_existing(self):
        hashers = _new_hashers()
        if self.part.exists():
            with open(self.part, "rb") as f:
                for block in iter(lambda: f.read(CHUNK), b""):
                    for h in hashers.values():
                        h.update(block)
        return hashers

    def __call__(self, url, output_file, pooch=None):
        if self.size is not None and self.part.exists() and self.part.stat().st_size > self.size:
            self.part.unlink()  # longer than the file can be: a stale part of something else
        if self.size is not None and self.part.exists() and self.part.stat().st_size == self.size:
            hashers = self._hashers_for_existing()  # complete from an earlier run; only verification was missing
        elif url.startswith(("http://", "https://")):
            hashers = self._http(url)
        else:
            hashers = self._copy(url)
        got = self.part.stat().st_size
        if self.size is not None and got != self.size:
            self.part.unlink()
            raise ChecksumError(f"got {got:,} bytes, expected {self.size:,}")
        md5 = hashers["md5"].hexdigest()
        if self.md5 and md5 != self.md5.lower():
            self.part.unlink()
            raise ChecksumError(f"md5 {md5}, expected {self.md5}")
        self.sha256 = hashers["sha256"].hexdigest()
        os.replace(self.part, output_file)

    def _bar(self, total, initial, desc):
        from tqdm.auto import tqdm
        return tqdm(total=total, initial=initial, unit="B", unit_scale=True, unit_divisor=1024, desc=desc,
                    disable=not self.progress, miniters=1, mininterval=0.5)

    def _http(self, url):
        import requests

        start = self.part.stat().st_size if self.part.exists() else 0
        headers = {"Range": f"bytes={start}-"} if start else {}
        r = requests.get(url, stream=True, headers=headers, timeout=self.timeout, allow_redirects=True)
        try:
            if start and r.status_code == 416:  # the part cannot be continued: start again
                r.close()
                self.part.unlink()
                start = 0
                r = requests.get(url, stream=True, timeout=self.timeout, allow_redirects=True)
            r.raise_for_status()
            if start and r.status_code != 206:
                _note(f"{url}: the server does not resume downloads; starting {self.part.name} again")
                start = 0
            hashers = self._hashers_for_existing() if start else _new_hashers()
            length = r.headers.get("Content-Length")
            total = start + int(length) if length and length.isdigit() else self.size
            written = start
            with open(self.part, "ab" if start else "wb") as f, \
                    self._bar(total, start, self.part.name.removesuffix(".part")) as bar:
                # raw bytes, as the server stores them: a '.gz' sent with 'Content-Encoding: gzip' stays compressed
                for block in r.raw.stream(1 << 16, decode_content=False):
                    f.write(block)
                    for h in hashers.values():
                        h.update(block)
                    written += len(block)
                    bar.update(len(block))
                f.flush()
                os.fsync(f.fileno())
            if total is not None and written < total:
                raise _Incomplete(f"the connection ended after {written:,} of {total:,} bytes "
                                  f"({self.part.name} kept: the next fetch resumes it)")
            return hashers
        finally:
            r.close()

    def _copy(self, src):
        src = Path(src.removeprefix("file://"))
        if not src.is_file():
            raise FileNotFoundError(f"{src} does not exist")
        hashers = _new_hashers()
        with open(src, "rb") as fin, open(self.part, "wb") as fout, \
                self._bar(src.stat().st_size, 0, src.name) as bar:
            for block in iter(lambda: fin.read(CHUNK), b""):
                fout.write(block)
                for h in hashers.values():
                    h.update(block)
                bar.update(len(block))
        return hashers


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


def fetch_file(name: str, filename: str | None = None, progress: bool = True) -> Path:
    """Download (if needed) and verify one file of a registry dataset; returns its path in the cache.

    A file already in place is verified (once: see `verify_file`); a missing one is downloaded from the
    mirror (if `SEEING_SAYING_MIRROR` is set) and then from each registry URL in turn. If none works, one
    `DownloadError` names the URLs and what went wrong, the file expected and how to place it by hand.
    """
    import pooch

    ds = get_dataset(name)
    res = ds.resource(filename) if filename else ds.resources[0]
    target = dataset_dir(ds.name) / res.relpath
    target.parent.mkdir(parents=True, exist_ok=True)
    with _Locked(target):
        if target.exists():
            verify_file(ds, res, target)
            return target
        if ds.manual or not res.urls:
            raise DownloadError(f"{ds.name}: {res.relpath} is not in {dataset_dir(ds.name, create=False)}.\n"
                                + manual_instructions(ds, res))
        part = target.with_name(target.name + ".part")
        want = expected_sha256(ds, res)
        errors = []
        for url in _candidate_urls(ds, res):
            downloader = ResumableDownloader(part, res.size, None if want else res.md5, progress)
            try:
                pooch.retrieve(url, known_hash=f"sha256:{want}" if want else None, fname=target.name,
                               path=target.parent, downloader=downloader, progressbar=False)
            except KeyboardInterrupt:
                _note(f"interrupted: {part.name} kept; fetching again resumes it")
                raise
            except ChecksumError as e:
                errors.append(f"{url}\n      -> wrong file: {e}")
                continue
            except ValueError as e:  # pooch's sha256 mismatch (it deleted the download)
                errors.append(f"{url}\n      -> wrong file: {str(e).split('. Deleted')[0]}")
                part.unlink(missing_ok=True)
                continue
            except Exception as e:  # requests / OS errors: offline, dead host, 404, refused, timeout
                errors.append(f"{url}\n      -> {_short(e)} ({type(e).__name__})")
                continue
            _write_stamp(target, downloader.sha256 or want,
                         "sha256 (registry)" if res.sha256 else ("sha256 (pinned)" if want else
                         ("md5 + size, sha256 pinned" if res.md5 else "size only, sha256 pinned")))
            if not want:
                _note(f"{res.filename}: downloaded; the registry has no sha256 for it, so this machine pinned "
                      f"sha256 {downloader.sha256} (checked at every later use).")
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
        if res.extract and is_extracted(ds, res):
            continue
        archive = fetch_file(ds.name, res.filename, progress)
        if res.extract and extract:
            with _Locked(folder / res.extract):
                if not is_extracted(ds, res):
                    safe_extract(archive, folder / res.extract, progress=progress,
                                 marker={"archive": res.filename, "sha256": _read_stamp(archive).get("sha256")})
            if delete_archives:
                archive.unlink()
    return folder


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
            stamp = _read_stamp(target)
            files[res.relpath] = (f"verified ({stamp.get('verified_by')})" if _stamp_is_fresh(target, stamp)
                                  else "present, not verified yet")
        elif part.is_file():
            total = f" of {res.size:,}" if res.size else ""
            files[res.relpath] = f"partial download ({part.stat().st_size:,}{total} bytes; fetch resumes it)"
        else:
            files[res.relpath] = "absent"
    states = set(files.values())
    if states and all(s == "unpacked" or s.startswith(("verified", "present")) for s in states):
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
           "UnknownDatasetError", "ResumableDownloader", "MIRROR_ENV"]
