"""The torchvision weights of the registry ('resnet152', 'vgg16', 'vgg16_bn'): where torchvision keeps them,
fetching them under the file's lock (torchvision checks the sha256 prefix in the file name), checking a file
already there against that prefix (`weights_problem`), the model."""

from __future__ import annotations

import hashlib
import os
import re
import sys
from pathlib import Path

from ._errors import ChecksumError, DownloadError
from ._resumable import _short
from ._stamps import _Locked, _read_stamp, _stamp_is_fresh, _write_stamp
from .registry import get_dataset

_STAMPED_BY = "sha256 prefix in the file name (torchvision)"


def torchvision_weights(name: str):
    """The torchvision weights enum member of a registry entry ('resnet152', 'vgg16', 'vgg16_bn').

    ValueError for a registry entry that is not torchvision weights, UnknownDatasetError for an unknown name.
    """
    import torchvision.models as tvm

    ds = get_dataset(name)
    if not ds.torchvision:
        raise ValueError(f"{ds.name} is not a torchvision weights entry")
    _, enum, member = ds.torchvision
    return getattr(getattr(tvm, enum), member)


def torchvision_weights_path(name: str) -> Path:
    """Where torchvision keeps the weight file: `torch.hub.get_dir()/checkpoints/<file>` (TORCH_HOME moves it).

    Worked out as torch does (TORCH_HOME, else XDG_CACHE_HOME/torch, else ~/.cache/torch) so that listing
    the datasets does not import torch. Raises as `torchvision_weights`.
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


def weights_problem(name: str) -> str:
    """'' when the weight file is there and its sha256 starts with the hex digits in its name (torchvision's
    `<model>-<hex>.pth`), else what is wrong and what to do, in one line ('absent', damaged, unreadable).

    The file is hashed in chunks once: a file that matches is stamped (`<file>.verified.json`, kept while its size
    and mtime stay the same). Raises as `torchvision_weights_path`.
    """
    path = torchvision_weights_path(name)
    if os.path.lexists(path) and not path.is_file():  # a folder, a fifo (torch would block on it), a dead link
        return f"{path} is not a regular file: move it away and run `python -m helpers fetch {name}`"
    if not path.is_file():
        return f"absent (python -m helpers fetch {name})"
    m = re.search(r"-([0-9a-f]+)\.[^.]+$", path.name)
    stamp = _read_stamp(path)
    if not m or (_stamp_is_fresh(path, stamp) and stamp["sha256"].startswith(m[1])):
        return ""
    try:
        with open(path, "rb") as f:
            sha = hashlib.file_digest(f, "sha256").hexdigest()
    except OSError as e:
        return f"{path} cannot be read ({e.strerror or type(e).__name__}): fix its permissions or delete it"
    if not sha.startswith(m[1]):
        return (
            f"{path} is damaged or not torchvision's file (its sha256 starts with {sha[: len(m[1])]}, not the "
            f"{m[1]} its name says): delete it and run `python -m helpers fetch {name}`"
        )
    try:
        _write_stamp(path, sha, _STAMPED_BY, pinned=False)
    except OSError:  # a read-only torch cache: it is hashed again next time
        pass
    return ""


def fetch_torchvision_weights(name: str, progress: bool = True, verify: bool = True) -> Path:
    """Have torchvision download its weights (it checks the sha256 prefix in the file name), under a lock.

    Returns the file's path (nothing is downloaded when it is there). The file is checked against the sha256
    prefix in its name (`weights_problem`; `verify=False` skips that): ChecksumError (one line: delete it, fetch
    again) when it does not match or cannot be read. DownloadError (one message: the URL, the reason,
    where to place the file by hand) when the download fails.
    """
    path = torchvision_weights_path(name)
    url = get_dataset(name).resources[0].urls[0]
    path.parent.mkdir(parents=True, exist_ok=True)
    with _Locked(path):
        if not os.path.lexists(path):
            _download(name, url, path, progress)
        if (verify or not path.is_file()) and (problem := weights_problem(name)):  # hashed once, then stamped
            raise ChecksumError(problem)  # not a regular file: refused even unverified (torch would block on a fifo)
    return path


def _download(name: str, url: str, path: Path, progress: bool) -> None:
    """torch.hub downloads `url` into `path`'s folder and checks its sha256 prefix; DownloadError (one message)."""
    import torch

    try:
        torch.hub.load_state_dict_from_url(
            url,
            model_dir=str(path.parent),
            progress=progress,
            check_hash=True,
            map_location="cpu",
            weights_only=True,
        )
    except Exception as e:
        raise DownloadError(
            f"Could not download the torchvision weights '{name}'.\nTried:\n  {url}\n      -> "
            f"{type(e).__name__}: {_short(e)}\nExpected: {path.name} (the 8 hex digits before '.pth' are the "
            f"start of its sha256; torchvision checks them)\nTo place it by hand: copy {path.name} to\n    {path}\n"
            "(set TORCH_HOME to move that folder), then run "
            f"`python -m helpers fetch {name}`."
        ) from None


def torchvision_model(name: str, progress: bool = True):
    """A torchvision model with its ImageNet weights ('resnet152', 'vgg16', 'vgg16_bn'), in eval mode.

    Fetches the weights first (`fetch_torchvision_weights`: DownloadError when that fails), then reads them with
    `torch.load(weights_only=True)`: torchvision's own loader unpickles a file already in its cache, so a crafted
    `.pth` placed there would run code. ChecksumError (one line: delete the file, fetch again) when the file holds
    anything but tensors or does not fit the network. Tensors that fit but whose file does not match the sha256
    prefix in its name (other weights) are loaded with a one-line warning (`weights_problem`).
    """
    import pickle

    import torch
    import torchvision.models as tvm

    path = fetch_torchvision_weights(name, progress, verify=False)  # checked below, after the safe load
    func, _, _ = get_dataset(name).torchvision
    model = getattr(tvm, func)(weights=None)
    try:
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError, KeyError) as e:
        raise ChecksumError(
            f"{path} is not {name}'s weight file (it {_why(e)}): delete it and run `python -m helpers fetch {name}`"
        ) from None
    if problem := weights_problem(name):
        import warnings

        warnings.warn(problem, stacklevel=2)
    return model.eval()


def _why(e: Exception) -> str:
    """Why a weight file failed to load, in a few words."""
    import pickle

    if isinstance(e, pickle.UnpicklingError):
        return "holds Python objects, not only tensors, and was not unpickled"
    return f"does not load: {type(e).__name__}: {_short(e)}"
