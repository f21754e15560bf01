"""Checkpoints without pickle: weights (safetensors or ``torch.save`` of a state_dict), vocab.json, config.json.

``save_checkpoint(directory, model, vocab, config, format="safetensors"|"torch") -> Path``
    ``model.safetensors`` (or ``model.pt``) + ``vocab.json`` + ``config.json``; each file written atomically.
``load_checkpoint(directory, build=None, map_location="cpu") -> Checkpoint(state_dict, vocab, config, model)``
    ``torch.load(..., weights_only=True)`` or safetensors; ``build(config, vocab) -> nn.Module`` makes the
    model, which is then loaded strictly and put in eval mode.

Taught in: notebooks/03_show_and_tell.ipynb § Saving and loading without pickle
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from .paths import new_file_mode
from .text import Vocabulary

__all__ = ["Checkpoint", "save_checkpoint", "load_checkpoint"]


@dataclass
class Checkpoint:
    """What `load_checkpoint` returns: the state_dict, the vocabulary, the config and (with `build`) the model.

    Taught in: notebooks/03_show_and_tell.ipynb § Saving and loading without pickle
    """

    state_dict: dict
    vocab: Vocabulary
    config: dict
    model: torch.nn.Module | None = None


def _atomic(path: Path, write: Callable[[str], None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, new_file_mode())  # mkstemp's 0600 -> what open() would give
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


_WEIGHTS = {"safetensors": "model.safetensors", "torch": "model.pt"}


def save_checkpoint(directory, model, vocab: Vocabulary, config: dict, format: str = "safetensors") -> Path:
    """Save `model`'s state_dict (or a state_dict itself), the vocabulary and a JSON config in `directory`.

    Each file is written atomically; config.json comes last and records the weights format, and a weights
    file of an earlier save in the other format is removed, so the folder always loads what was saved last.
    Raises ValueError for an unknown `format`.

    Taught in: notebooks/03_show_and_tell.ipynb § Saving and loading without pickle
    """
    if format not in ("safetensors", "torch"):
        raise ValueError(f"format must be 'safetensors' or 'torch', not {format!r}")
    directory = Path(directory)
    state = model.state_dict() if isinstance(model, torch.nn.Module) else dict(model)
    # Own, contiguous CPU copies: safetensors refuses shared memory (e.g. tied embeddings).
    state = {k: v.detach().cpu().contiguous().clone() for k, v in state.items()}
    text = json.dumps({**config, "weights_format": format, "vocab_size": len(vocab)}, indent=1, sort_keys=True)
    if format == "safetensors":
        from safetensors.torch import save_file

        _atomic(directory / _WEIGHTS[format], lambda p: save_file(state, p))
    else:
        _atomic(directory / _WEIGHTS[format], lambda p: torch.save(state, p))
    _atomic(directory / "vocab.json", vocab.save)
    # config.json is written last and names the weights file: it is what makes the new save the current one
    _atomic(directory / "config.json", lambda p: Path(p).write_text(text, encoding="utf-8"))
    for other, name in _WEIGHTS.items():  # a weights file of an earlier save in the other format is stale
        if other != format:
            (directory / name).unlink(missing_ok=True)
    return directory


def _json_object(path: Path, what: str) -> dict:
    """The JSON object in `path`; ValueError naming the file when it is not JSON or not an object."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: not JSON ({e}); the checkpoint is damaged: save it again") from None
    if not isinstance(value, dict):
        raise ValueError(f"{path}: expected a JSON {what}, got {type(value).__name__}; save the checkpoint again")
    return value


def load_checkpoint(directory, build: Callable | None = None, map_location="cpu") -> Checkpoint:
    """Load what `save_checkpoint` wrote (no pickle: safetensors or `torch.load(weights_only=True)`).

    With `build(config, vocab) -> nn.Module`, the model is created, loaded strictly and set to eval mode.
    Raises FileNotFoundError when config.json, vocab.json or the weights file is missing, ValueError (naming
    the file) when config.json or vocab.json is not the JSON object it should be, a safetensors file is
    damaged, config.json disagrees with vocab.json or names an unknown weights format, and RuntimeError (from
    `load_state_dict`) when the built model does not match the weights.

    Taught in: notebooks/03_show_and_tell.ipynb § Saving and loading without pickle
    """
    directory = Path(directory)
    config = _json_object(directory / "config.json", "object")
    itos = _json_object(directory / "vocab.json", "object with the list of words 'itos'").get("itos")
    if not isinstance(itos, list) or not all(isinstance(w, str) for w in itos):
        raise ValueError(f"{directory / 'vocab.json'}: 'itos' is not a list of words; save the checkpoint again")
    try:
        vocab = Vocabulary(itos)
    except ValueError as e:
        raise ValueError(f"{directory / 'vocab.json'}: {e}; save the checkpoint again") from None
    if config.get("vocab_size", len(vocab)) != len(vocab):
        raise ValueError(f"{directory}: config says {config['vocab_size']!r} words, vocab.json has {len(vocab)}")
    fmt = config.get("weights_format")
    if fmt is None:  # a folder from before config.json named its weights: the newest file is the last save
        present = [f for f, name in _WEIGHTS.items() if (directory / name).is_file()]
        fmt = max(present, key=lambda f: (directory / _WEIGHTS[f]).stat().st_mtime_ns) if present else "safetensors"
    if fmt not in _WEIGHTS:
        raise ValueError(f"{directory}/config.json: unknown weights_format {fmt!r}; expected {sorted(_WEIGHTS)}")
    path = directory / _WEIGHTS[fmt]
    if not path.is_file():
        raise FileNotFoundError(
            f"{directory}: config.json says the weights are in {path.name}, which is missing; save the checkpoint again"
        )
    if fmt == "safetensors":
        from safetensors.torch import load_file

        device = str(map_location) if map_location is not None else "cpu"
        try:
            state = load_file(str(path), device=device)
        except Exception as e:  # safetensors' SafetensorError: a damaged or truncated file
            raise ValueError(f"{path}: not a readable safetensors file ({e}); save the checkpoint again") from None
    else:
        state = torch.load(path, map_location=map_location, weights_only=True)
    model = None
    if build is not None:
        model = build(config, vocab)
        model.load_state_dict(state, strict=True)
        model.eval()
    return Checkpoint(state, vocab, config, model)
