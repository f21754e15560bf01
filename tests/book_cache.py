"""Keep the book's execution cache honest: drop it when the code the notebooks import has changed.

jupyter-cache re-executes a notebook only when its own code cells change (jupyter-book/jupyter-book#1633,
executablebooks/MyST-NB#621), so after an edit to ``helpers/`` a ``make book`` would publish outputs computed
with the old code. The cache folder therefore carries a stamp: the SHA-256 of every file under ``helpers/``
and of ``requirements.txt``. ``make book`` (``python -m tests.book_cache CACHE``) and ``make test`` (the
nbval plugin, before it stores a run) compare it with the tree and empty the cache when it differs.
"""

from __future__ import annotations

import hashlib
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STAMP = "book-inputs.sha256"


def inputs_digest(repo: Path = REPO) -> str:
    """SHA-256 over the paths and bytes of helpers/** (sources, assets; no caches) and requirements.txt."""
    h = hashlib.sha256()
    files = [
        p
        for p in sorted((repo / "helpers").rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc", ".pyo")
    ]
    for p in [*files, repo / "requirements.txt"]:
        rel = p.relative_to(repo).as_posix().encode()
        data = p.read_bytes() if p.is_file() else b""
        h.update(len(rel).to_bytes(4, "big") + rel + len(data).to_bytes(8, "big") + data)
    return h.hexdigest()


def ensure_fresh(cache: Path, repo: Path = REPO, quiet: bool = False) -> bool:
    """Empty `cache` if its stamp is missing or differs from `inputs_digest`; then stamp it. True if emptied."""
    cache = Path(cache)
    now = inputs_digest(repo)
    stamp = cache / STAMP
    old = stamp.read_text(encoding="utf-8").strip() if stamp.is_file() else None
    emptied = False
    if old != now and cache.exists() and any(p.name != STAMP for p in cache.iterdir()):
        if not quiet:
            why = "has no stamp" if old is None else f"was made with other code ({old[:12]} != {now[:12]})"
            print(
                f"execution cache {cache} {why}: helpers/ or requirements.txt changed since those runs, so "
                f"it is emptied and the notebooks run again"
            )
        shutil.rmtree(cache)
        emptied = True
    cache.mkdir(parents=True, exist_ok=True)
    if old != now or emptied:
        stamp.write_text(now + "\n", encoding="utf-8")
    return emptied


if __name__ == "__main__":
    # python -m tests.book_cache CACHE [DOCTREES]: with DOCTREES, Sphinx's saved state is dropped too when the
    # cache is emptied, or Sphinx would keep the old pages of notebooks whose source did not change.
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: python -m tests.book_cache CACHE_FOLDER [SPHINX_DOCTREES_FOLDER]")
    if ensure_fresh(Path(sys.argv[1])) and len(sys.argv) == 3:
        shutil.rmtree(sys.argv[2], ignore_errors=True)
