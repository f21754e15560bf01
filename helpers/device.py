"""Device choice, seeding, thread counts and DataLoader workers."""

import contextlib
import operator
import os
import random
from collections.abc import Iterator

import numpy as np
import torch

_DEVICE_FORMS = "'auto', 'cpu', 'cuda' or 'cuda:N' (N = 0, 1, ...)"


def parse_device(prefer) -> str:
    """Check a device request and return it normalized: 'auto', 'cpu', 'cuda' or 'cuda:N'.

    Accepts a string (any case, surrounding spaces ignored) or a `torch.device`. Raises ValueError naming the
    valid forms for anything else ('cudaXYZ', 'cuda:abc', 'cuda:-1', 'tpu', '').
    """
    import re

    if isinstance(prefer, torch.device):
        prefer = str(prefer)
    if not isinstance(prefer, str):
        raise ValueError(f"device must be {_DEVICE_FORMS}, not {prefer!r}")
    text = prefer.strip().lower()
    if text in ("auto", "cpu", "cuda") or re.fullmatch(r"cuda:\d+", text):
        return text
    raise ValueError(f"device must be {_DEVICE_FORMS}, not {prefer!r}")


def pick_device(prefer: str = "auto", verbose: bool = True) -> torch.device:
    """The GPU with the most free memory (seed 000's idea, via `torch.cuda.mem_get_info`), else the CPU.

    `prefer` is "auto", "cpu", "cuda" or "cuda:N" (see `parse_device`). Asking for CUDA on a machine
    without it falls back to the CPU with one clear line. Raises ValueError for a malformed request, or for
    'cuda:N' when the machine has fewer than N + 1 GPUs.

    Taught in: notebooks/00_data_features_devices.ipynb § Devices
    """
    prefer = parse_device(prefer)
    if prefer == "cpu":
        device = torch.device("cpu")
    elif not torch.cuda.is_available():
        device = torch.device("cpu")
        if prefer.startswith("cuda"):
            if verbose:  # one line, instead of the usual one below
                print(
                    f"CUDA was asked for ({prefer}) but no GPU is visible: running on the CPU "
                    f"({torch.get_num_threads()} threads)."
                )
            return device
    elif prefer.startswith("cuda:"):
        index, count = int(prefer.split(":")[1]), torch.cuda.device_count()
        if index >= count:
            raise ValueError(f"device {prefer!r}: this machine has {count} GPU(s), cuda:0 to cuda:{count - 1}")
        device = torch.device(prefer)
    else:
        free = [torch.cuda.mem_get_info(i)[0] for i in range(torch.cuda.device_count())]
        device = torch.device(f"cuda:{int(np.argmax(free))}")
    if verbose:
        if device.type == "cuda":
            free, total = torch.cuda.mem_get_info(device)
            name = torch.cuda.get_device_name(device)
            print(f"Using {device} ({name}, {free / 2**30:.1f} of {total / 2**30:.1f} GiB free)")
        else:
            print(f"Using the CPU ({torch.get_num_threads()} threads)")
    return device


def seed_everything(seed: int = 0) -> None:
    """Seed Python, NumPy and torch (CPU and every GPU) so a run repeats.

    Used in: notebooks/00_data_features_devices.ipynb § Data, features and devices
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)


def cpu_count() -> int:
    """The cores this process may really use (an int >= 1): `joblib.cpu_count()`, the smallest of the machine's
    cores, the CPU affinity, a cgroup CPU quota (v1 or v2, rounded up) and `LOKY_MAX_CPU_COUNT` if set.

    In a container limited with `--cpus=2` on a 64-core host, `os.cpu_count()` says 64 and PyTorch would
    start 32 or more threads that fight over 2 cores (several times slower); this says 2. A quota or
    `LOKY_MAX_CPU_COUNT` that is not a number is ignored (the CPU affinity counts), never an error.
    """
    import joblib

    try:
        return joblib.cpu_count()
    except ValueError:  # joblib parses the quota and LOKY_MAX_CPU_COUNT with int(): the affinity alone
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def limit_threads() -> int:
    """Use no more torch threads than `cpu_count()` (done when `helpers.device` is imported); returns the count."""
    n = cpu_count()
    if torch.get_num_threads() > n:
        torch.set_num_threads(n)
    return torch.get_num_threads()


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[int]:
    """Run a block on `n` torch CPU threads (at most `cpu_count()`), then restore the previous count, also when
    the block raises. Yields the count in use (an int >= 1).

    Chapter 01 trains its GRUs on one thread and the rest on two: a GRU's many small steps gain less from a
    second thread than they lose waiting for it (`benchmarks/bench_threads.py`, book/performance.md "Threads
    on a 2-core machine"). The count changes results only through the order of parallel sums (float rounding).
    Raises ValueError if `n` is not an int (or NumPy integer) >= 1.

    Taught in: notebooks/01_search_by_regression.ipynb § 4. Training
    """
    try:
        count = operator.index(n)  # an int or a NumPy integer; not a float, a string or a bool
    except TypeError:
        count = 0
    if isinstance(n, bool) or count < 1:
        raise ValueError(f"torch_threads needs a whole number of threads >= 1, not {n!r}")
    before = torch.get_num_threads()
    torch.set_num_threads(min(count, cpu_count()))
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(before)


def num_workers(max_workers: int = 4) -> int:
    """DataLoader workers for this machine: one per spare core (`cpu_count() - 2`, at most `max_workers`), none
    on a 1-2 core machine.

    Taught in: notebooks/00_data_features_devices.ipynb § Devices
    """
    return max(0, min(max_workers, cpu_count() - 2))


limit_threads()  # a container's CPU quota, not the host's core count, sets torch's thread pool
