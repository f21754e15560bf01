"""Device choice, seeding and DataLoader workers."""
import os
import random

import numpy as np
import torch


def pick_device(prefer: str = "auto", verbose: bool = True) -> torch.device:
    """The GPU with the most free memory (seed 000's idea, via `torch.cuda.mem_get_info`), else the CPU.

    `prefer` is "auto", "cpu", "cuda" or "cuda:N". Asking for CUDA on a machine without it falls back to the
    CPU with one clear line.
    """
    prefer = str(prefer).lower()
    if prefer not in ("auto", "cpu") and not prefer.startswith("cuda"):
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', not {prefer!r}")
    if prefer == "cpu":
        device = torch.device("cpu")
    elif not torch.cuda.is_available():
        if prefer.startswith("cuda") and verbose:
            print(f"CUDA was asked for ({prefer}) but no GPU is visible: running on the CPU.")
        device = torch.device("cpu")
    elif prefer.startswith("cuda:"):
        device = torch.device(prefer)
    else:
        free = [torch.cuda.mem_get_info(i)[0] for i in range(torch.cuda.device_count())]
        device = torch.device(f"cuda:{int(np.argmax(free))}")
    if verbose:
        if device.type == "cuda":
            free, total = torch.cuda.mem_get_info(device)
            print(f"Using {device} ({torch.cuda.get_device_name(device)}, {free / 2**30:.1f} of {total / 2**30:.1f} GiB free)")
        else:
            print(f"Using the CPU ({torch.get_num_threads()} threads)")
    return device


def seed_everything(seed: int = 0) -> None:
    """Seed Python, NumPy and torch (CPU and every GPU) so a run repeats."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)


def num_workers(max_workers: int = 4) -> int:
    """DataLoader workers for this machine: one per spare core, none on a 1-2 core machine."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(0, min(max_workers, cores - 2))
