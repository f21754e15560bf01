"""helpers.theano_compat: the shims that let Lasagne 0.1 run on theano-pymc 1.1.2 and Python 3.11."""

from __future__ import annotations

import pytest

from helpers.paths import cache_dir
from helpers.theano_compat import theano_flags
from tests.test_env import run_python


def flags(value: str) -> dict[str, str]:
    return dict(item.split("=", 1) for item in value.split(","))


def test_flags_defaults():
    got = flags(theano_flags(""))
    assert got["blas__ldflags"] == ""
    assert got["floatX"] == "float32"
    assert got["base_compiledir"] == str(cache_dir("theano"))
    assert got["gcc__cxxflags"] == "-g0"  # no debug symbols: faster g++ (Theano passes -g before it)


def test_flags_keep_what_the_user_set():
    got = flags(theano_flags("floatX=float64,blas.ldflags=-lopenblas,device=cpu, base_compiledir=/tmp/x"))
    assert got["floatX"] == "float64"
    assert got["blas.ldflags"] == "-lopenblas" and "blas__ldflags" not in got
    assert got["device"] == "cpu"
    assert got["base_compiledir"] == "/tmp/x"


@pytest.mark.slow
def test_shims_in_a_fresh_interpreter():
    result = run_python(
        """
        import os, sys, warnings
        from helpers.theano_compat import import_lasagne
        numpy_first = "numpy" in sys.modules     # `import helpers` may import numpy: both paths must work
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)   # no 'too late for OPENBLAS' warning: it is handled
            lasagne = import_lasagne()
        assert import_lasagne() is lasagne
        assert numpy_first or os.environ["OPENBLAS_NUM_THREADS"] == "1"
        from threadpoolctl import threadpool_info
        blas = [lib for lib in threadpool_info() if lib["user_api"] == "blas"]
        assert blas and all(lib["num_threads"] == 1 for lib in blas), blas
        import numpy as np, theano, theano.tensor as T
        from helpers.paths import cache_dir
        assert theano.config.floatX == "float32" and theano.config.blas__ldflags == ""
        assert theano.config.base_compiledir == str(cache_dir("theano"))
        assert sys.modules["theano.scan.scan_perform_ext"] is None
        from theano.sandbox.rng_mrg import MRG_RandomStreams, MRG_RandomStream
        assert MRG_RandomStreams is MRG_RandomStream
        from theano.tensor.signal import downsample
        assert callable(downsample.max_pool_2d)
        assert theano.gof.Variable is theano.graph.basic.Variable

        # Max pooling through lasagne (downsample shim) agrees with NumPy.
        x4 = T.tensor4("x4")
        pool = lasagne.layers.MaxPool2DLayer(lasagne.layers.InputLayer((None, 1, 4, 4)), pool_size=2)
        f = theano.function([x4], lasagne.layers.get_output(pool, x4))
        a = np.arange(16, dtype="float32").reshape(1, 1, 4, 4)
        assert np.array_equal(f(a), a.reshape(1, 1, 2, 2, 2, 2).max(axis=(3, 5)))

        # Dropout (MRG_RandomStreams shim) in training mode zeroes about half the units.
        x = T.matrix("x")
        drop = lasagne.layers.DropoutLayer(lasagne.layers.InputLayer((None, 1000)), p=0.5)
        g = theano.function([x], lasagne.layers.get_output(drop, x, deterministic=False))
        kept = (g(np.ones((4, 1000), dtype="float32")) > 0).mean()
        assert 0.4 < kept < 0.6, kept

        # scan runs with the pure-Python implementation (the C one does not compile on Python 3.11).
        s, _ = theano.scan(lambda row, acc: acc + row, sequences=[x], outputs_info=[T.zeros_like(x[0])])
        h = theano.function([x], s[-1])
        assert np.allclose(h(np.ones((3, 5), dtype="float32")), 3.0)
        print("shims ok")
        """
    )
    assert "shims ok" in result.stdout


@pytest.mark.slow
def test_late_numpy_is_capped_with_threadpoolctl_and_user_flags_win():
    result = run_python(
        """
        import os, warnings
        import numpy                       # too early for OPENBLAS_NUM_THREADS
        from helpers.theano_compat import import_lasagne
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            import_lasagne()
        assert "OPENBLAS_NUM_THREADS" not in os.environ
        from threadpoolctl import threadpool_info
        blas = [lib for lib in threadpool_info() if lib["user_api"] == "blas"]
        assert blas and all(lib["num_threads"] == 1 for lib in blas), blas
        import theano
        assert theano.config.floatX == "float64", theano.config.floatX
        print("flags ok")
        """,
        THEANO_FLAGS="floatX=float64",
    )
    assert "flags ok" in result.stdout


@pytest.mark.slow
def test_late_numpy_without_threadpoolctl_warns():
    result = run_python(
        """
        import sys, warnings
        import numpy
        sys.modules["threadpoolctl"] = None   # as if it were not installed
        from helpers.theano_compat import import_lasagne
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            import_lasagne()
        assert any("OPENBLAS_NUM_THREADS" in str(w.message) for w in caught), [str(w.message) for w in caught]
        print("warned")
        """
    )
    assert "warned" in result.stdout


@pytest.mark.slow
def test_numpy_aliases_are_restored_when_missing():
    result = run_python(
        """
        import numpy as np
        for name in ("bool", "int", "float", "complex", "object", "str"):
            try:
                delattr(np, name)
            except AttributeError:
                pass
        from helpers.theano_compat import _restore_numpy_aliases
        _restore_numpy_aliases()
        assert np.int is int and np.bool is bool and np.complex is complex and np.object is object
        print("aliases ok")
        """
    )
    assert "aliases ok" in result.stdout
