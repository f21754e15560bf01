"""The book's execution cache is emptied when helpers/ or requirements.txt change (tests/book_cache.py)."""

import shutil
import subprocess
import sys

import nbformat
from jupyter_cache import get_cache
from jupyter_cache.base import CacheBundleIn

from tests import book_cache

REPO = book_cache.REPO


def _tree(tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(REPO / "helpers", repo / "helpers", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "requirements.txt", repo / "requirements.txt")
    return repo


def _cached_notebook(cache):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(1)")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    get_cache(str(cache)).cache_notebook_bundle(CacheBundleIn(nb, "/x/nb.ipynb"), check_validity=False)
    return nb


def _hit(cache, nb):
    try:
        return get_cache(str(cache)).match_cache_notebook(nb).pk
    except KeyError:
        return None


def test_a_change_to_helpers_empties_the_cache(tmp_path, capsys):
    repo, cache = _tree(tmp_path), tmp_path / "cache"
    book_cache.ensure_fresh(cache, repo)
    nb = _cached_notebook(cache)
    assert book_cache.ensure_fresh(cache, repo) is False and _hit(cache, nb)  # unchanged: kept
    m = repo / "helpers" / "metrics.py"  # a one-word change to BLEU's smoothing changes every BLEU the book prints
    before = m.read_text()
    m.write_text(before.replace("SmoothingFunction().method1", "SmoothingFunction().method2"))
    assert m.read_text() != before, "the edit this test relies on did not apply: point it at BLEU's smoothing"
    assert book_cache.ensure_fresh(cache, repo) is True
    assert "emptied" in capsys.readouterr().out
    assert _hit(cache, nb) is None
    assert (cache / book_cache.STAMP).read_text().strip() == book_cache.inputs_digest(repo)


def test_requirements_and_new_files_count_too(tmp_path):
    repo = _tree(tmp_path)
    d0 = book_cache.inputs_digest(repo)
    (repo / "helpers" / "assets" / "new.json").write_text("{}")
    d1 = book_cache.inputs_digest(repo)
    (repo / "requirements.txt").write_text((repo / "requirements.txt").read_text() + "\nextra==1\n")
    assert len({d0, d1, book_cache.inputs_digest(repo)}) == 3
    (repo / "helpers" / "__pycache__").mkdir(exist_ok=True)
    (repo / "helpers" / "__pycache__" / "x.pyc").write_bytes(b"\0")  # byte code does not count
    assert book_cache.inputs_digest(repo) == book_cache.inputs_digest(repo)


def test_a_cache_without_stamp_is_emptied_and_the_cli_works(tmp_path):
    cache = tmp_path / "cache"
    nb = _cached_notebook(cache)  # as made by an older make test, before stamps existed
    doctrees = tmp_path / "doctrees"
    doctrees.mkdir()
    (doctrees / "environment.pickle").write_bytes(b"")
    out = subprocess.run(
        [sys.executable, "-m", "tests.book_cache", str(cache), str(doctrees)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "has no stamp" in out and _hit(cache, nb) is None
    assert not doctrees.exists()  # Sphinx must re-read every page, or it keeps the old outputs
