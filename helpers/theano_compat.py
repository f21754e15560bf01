"""Make Lasagne 0.1 import and run on theano-pymc 1.1.2 and Python 3.11, without editing site-packages.

Lasagne 0.1 (2015) was written for Theano 0.7; the maintained fork theano-pymc renamed a few things and its
C implementation of ``scan`` no longer compiles on Python 3.11. :func:`import_lasagne` applies the smallest
set of runtime shims that makes ``import lasagne`` work, then returns the module::

    from helpers.theano_compat import import_lasagne
    lasagne = import_lasagne()
    import theano, theano.tensor as T

What it does, in order (each step is documented in the book's appendix "Running on real data and GPUs"):

1. ``THEANO_FLAGS``: adds ``blas__ldflags=`` (empty: numpy has no BLAS info for Theano to link against, so
   Theano uses its own NumPy-backed BLAS ops), ``floatX=float32`` and
   ``base_compiledir=<book cache>/theano`` (compiled C modules live in the book's cache folder, so
   ``make clean`` and a cold benchmark really start cold) and ``gcc__cxxflags=-g0`` (Theano passes ``-g`` to
   ``g++``; its debug symbols serve only a debugger, and leaving them out makes each of the many C modules a
   cold run compiles about a tenth faster). A flag the user already set is kept.
2. One BLAS thread: two OpenBLAS thread pools (NumPy's and SciPy's) fighting over two cores make Theano
   steps 2-3x slower (measured: 52 ms vs 140 ms for an LSTM+softmax Adam step). If NumPy is not imported
   yet, ``OPENBLAS_NUM_THREADS=1`` is set; if it is (``import helpers`` imports it), the loaded BLAS
   libraries are capped at one thread with ``threadpoolctl`` instead, which measures the same. Without
   threadpoolctl a warning says so. A value the user set is kept.
3. NumPy aliases removed in NumPy 1.24 (``np.bool``, ``np.int``, ...) are restored if missing.
4. ``sys.modules['theano.scan.scan_perform_ext'] = None``: the Cython scan does not compile on 3.11, and
   with this entry Theano's ``Scan`` falls back to its pure-Python loop on the ``ImportError``.
5. Renamed names Lasagne imports: ``theano.sandbox.rng_mrg.MRG_RandomStreams`` (now ``MRG_RandomStream``),
   ``theano.tensor.signal.downsample.max_pool_2d`` (now ``theano.tensor.signal.pool.pool_2d`` with the
   arguments ``ws``, ``stride``, ``pad``) and ``theano.gof`` (now ``theano.graph``).

Calling it twice is harmless; it returns the same module.
"""

from __future__ import annotations

import logging
import os
import sys
import types
import warnings

from helpers.paths import cache_dir

__all__ = ["import_lasagne", "theano_flags", "NUMPY_ALIASES"]

#: NumPy names removed in 1.24 that theano-pymc 1.1.2 still uses, and what they meant.
NUMPY_ALIASES = {"bool": bool, "int": int, "float": float, "complex": complex, "object": object, "str": str}


def theano_flags(existing: str | None = None) -> str:
    """The ``THEANO_FLAGS`` value the book needs, merged into ``existing`` (user-set flags win).

    >>> "floatX=float64" in theano_flags("floatX=float64")
    True
    """
    flags: dict[str, str] = {}
    order: list[str] = []
    for item in (existing or "").split(","):
        item = item.strip()
        if not item:
            continue
        key, _, value = item.partition("=")
        key = key.strip()
        if key not in flags:
            order.append(key)
        flags[key] = value.strip()
    # Theano accepts both spellings: blas.ldflags and blas__ldflags.
    present = {k.replace(".", "__") for k in flags}
    defaults = {
        "blas__ldflags": "",
        "floatX": "float32",
        "base_compiledir": str(cache_dir("theano")),
        # Theano calls g++ with -g: debug symbols for every C module, which only a debugger reads;
        # -g0 (after it) cancels them and compiles each module about a tenth faster
        "gcc__cxxflags": "-g0",
    }
    for key, value in defaults.items():
        if key not in present:
            order.append(key)
            flags[key] = value
    return ",".join(f"{k}={flags[k]}" for k in order)


def _set_environment() -> bool:
    """Set THEANO_FLAGS and, if still in time, OPENBLAS_NUM_THREADS. True if NumPy came first (too late)."""
    os.environ["THEANO_FLAGS"] = theano_flags(os.environ.get("THEANO_FLAGS"))
    if "OPENBLAS_NUM_THREADS" in os.environ:
        return False
    if "numpy" in sys.modules:
        return True
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    return False


def _limit_blas_threads_now() -> None:
    """NumPy was imported before us: cap the BLAS libraries already loaded at one thread with threadpoolctl."""
    try:
        import scipy.linalg  # noqa: F401  (loads SciPy's own OpenBLAS, so that it is capped too)
        from threadpoolctl import threadpool_limits
    except ImportError:
        warnings.warn(
            "NumPy was imported before helpers.theano_compat.import_lasagne(): OPENBLAS_NUM_THREADS=1 comes too "
            "late, and Theano may run 2-3x slower on a 2-core machine. Call import_lasagne() first, or set "
            "OPENBLAS_NUM_THREADS=1 before starting Python.",
            RuntimeWarning,
            stacklevel=3,
        )
        return
    threadpool_limits(limits=1, user_api="blas")


def _restore_numpy_aliases() -> None:
    import numpy as np

    for name, value in NUMPY_ALIASES.items():
        try:
            getattr(np, name)
        except AttributeError:
            setattr(np, name, value)


def _max_pool_2d(input, ds, ignore_border=None, st=None, padding=(0, 0), mode="max"):
    """Theano 0.7's ``downsample.max_pool_2d`` on top of ``theano.tensor.signal.pool.pool_2d``."""
    from theano.tensor.signal.pool import pool_2d

    return pool_2d(input, ws=ds, ignore_border=ignore_border, stride=st, pad=padding, mode=mode)


def _apply_theano_shims() -> None:
    # Pure-Python scan: must be in place before Theano first compiles a scan.
    sys.modules.setdefault("theano.scan.scan_perform_ext", None)

    import theano
    import theano.graph
    import theano.graph.basic
    import theano.sandbox.rng_mrg as rng_mrg
    import theano.tensor.signal

    if not hasattr(rng_mrg, "MRG_RandomStreams"):
        rng_mrg.MRG_RandomStreams = rng_mrg.MRG_RandomStream

    if "theano.tensor.signal.downsample" not in sys.modules:
        downsample = types.ModuleType(
            "theano.tensor.signal.downsample",
            "Shim (helpers.theano_compat): Theano 0.7's downsample module, mapped onto signal.pool.",
        )
        downsample.max_pool_2d = _max_pool_2d
        sys.modules[downsample.__name__] = downsample
        theano.tensor.signal.downsample = downsample

    if not hasattr(theano, "gof"):
        gof = types.ModuleType("theano.gof", "Shim (helpers.theano_compat): theano.gof was renamed theano.graph.")
        gof.Variable = theano.graph.basic.Variable
        gof.Apply = theano.graph.basic.Apply
        gof.Constant = theano.graph.basic.Constant
        sys.modules.setdefault("theano.gof", gof)
        theano.gof = sys.modules["theano.gof"]


def import_lasagne():
    """Apply the shims described in this module's docstring, then import and return ``lasagne``.

    Used in: notebooks/04_theano_attention_solution.ipynb § Attention captioning in Theano + Lasagne: solutions
    """
    if "lasagne" in sys.modules and "theano.tensor.signal.downsample" in sys.modules:
        return sys.modules["lasagne"]
    numpy_came_first = _set_environment()
    _restore_numpy_aliases()
    with warnings.catch_warnings():
        # theano-pymc and lasagne 0.1 are old: silence their deprecation chatter, not real warnings.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        # lasagne/__init__.py imports pkg_resources (hence setuptools<81): its notice is not news to a reader.
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
        # "Using NumPy C-API based implementation for BLAS functions": expected with blas__ldflags empty.
        blas_logger = logging.getLogger("theano.tensor.blas")
        level = blas_logger.level
        blas_logger.setLevel(logging.ERROR)
        _apply_theano_shims()
        import lasagne

        blas_logger.setLevel(level)
    if numpy_came_first:
        _limit_blas_threads_now()
    return lasagne


#: Alias, for code that reads better as a set-up step: ``setup()`` then ``import lasagne``.
setup = import_lasagne
