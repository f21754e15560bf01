"""OpenMP wait policy and thread count on a 2-core machine: a small GRU training step and a CNN forward pass.

Runs the workload in a fresh process for each setting (the policy is read when OpenMP starts), once with the
machine as it is and once with a busy-looping process on one core, and prints the seconds. The workload is
chapter 01's size: 40 Adam steps of a 50 -> 128 GRU with a 1,280-d linear output on batches of 256 token ids
(B = 256, T = 12), then three EfficientNet-Lite0 forward passes on (64, 3, 128, 128) float32.
Results and the choice they support: book/performance.md, "Threads on a 2-core machine".
Usage: python benchmarks/bench_threads.py [--repeat 2]
"""

import argparse
import os
import subprocess
import sys
import time

SETTINGS = {
    "passive (make's default)": {"OMP_WAIT_POLICY": "PASSIVE"},
    "active": {"OMP_WAIT_POLICY": "ACTIVE"},
    "bounded spin (GOMP_SPINCOUNT=1000)": {"GOMP_SPINCOUNT": "1000"},
    "one thread": {"BENCH_ONE_THREAD": "1"},
}


def workload() -> None:
    import torch

    import helpers  # noqa: F401  (caps torch's threads at the usable cores, as the notebooks do)
    from helpers.features import Backbone

    if os.environ.get("BENCH_ONE_THREAD"):
        torch.set_num_threads(1)
    torch.manual_seed(0)
    emb, gru = torch.nn.Embedding(2000, 50), torch.nn.GRU(50, 128, batch_first=True)
    lin = torch.nn.Linear(128, 1280)
    opt = torch.optim.Adam([*emb.parameters(), *gru.parameters(), *lin.parameters()], 2e-3)
    ids, y = torch.randint(0, 2000, (256, 12)), torch.randn(256, 1280)  # (B, T) int64, (B, 1280)

    def step():
        _, h = gru(emb(ids))  # h: (1, B, 128)
        loss = ((lin(h[-1]) - y) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()

    step()
    t = time.perf_counter()
    for _ in range(40):
        step()
    gru_s = time.perf_counter() - t
    cnn = Backbone()
    x = torch.randn(64, 128, 128, 3).permute(0, 3, 1, 2)  # (B, 3, 128, 128), channels-last in memory
    cnn(x)
    t = time.perf_counter()
    for _ in range(3):
        cnn(x)
    print(f"{gru_s:.2f} {time.perf_counter() - t:.2f}")


def run(setting: dict) -> tuple:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    out = subprocess.run(
        [sys.executable, __file__, "--workload"], env={**env, **setting}, capture_output=True, text=True, check=True
    )
    gru_s, cnn_s = out.stdout.split()[-2:]
    return float(gru_s), float(cnn_s)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--repeat", type=int, default=2, help="runs per setting when idle (the best is shown)")
    p.add_argument("--workload", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.workload:
        return workload()
    print(f"{'machine':6s} {'setting':36s} {'GRU steps':>10s} {'CNN':>8s}")
    for busy in (False, True):
        hog = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
        try:
            for name, setting in SETTINGS.items():
                runs = [run(setting) for _ in range(1 if busy else a.repeat)]
                gru_s, cnn_s = min(r[0] for r in runs), min(r[1] for r in runs)
                print(f"{'busy' if busy else 'idle':6s} {name:36s} {gru_s:9.2f}s {cnn_s:7.2f}s", flush=True)
        finally:
            if hog:
                hog.kill()


if __name__ == "__main__":
    main()
