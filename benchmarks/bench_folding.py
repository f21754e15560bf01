"""Batch normalization folded into the convolutions (`helpers.folding.fold_batch_norm`) against the network as
loaded: EfficientNet-Lite0's forward pass on the book's image size, on this machine's CPU threads.

Both networks run in one process, alternating, on the same (64, 3, 128, 128) float32 batch (the feature cache's
batch); prints the median and best seconds of each, and the largest difference of their pooled (64, 1280) and
map (64, 112, 8, 8) outputs. Results: book/performance.md, "Batch normalization folded".
Usage: python benchmarks/bench_folding.py [--repeat 10]
"""

import argparse
import statistics
import time


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=10, help="timed passes of each network")
    args = parser.parse_args(argv)

    import torch

    import helpers  # noqa: F401  (caps torch's threads at the usable cores, as the notebooks do)
    from helpers.features import Backbone, load_efficientnet_lite0

    folded = Backbone("efficientnet_lite0")  # folds on load
    plain = Backbone("efficientnet_lite0")  # the same forward(), over the network as loaded:
    plain.net = load_efficientnet_lite0().eval().requires_grad_(False)
    torch.manual_seed(0)
    x = torch.randn(64, 3, 128, 128)  # (B, 3, S, S), normalized pixels
    outputs, seconds = {}, {"as loaded": [], "folded": []}
    for name, model in (("as loaded", plain), ("folded", folded)):
        outputs[name] = model(x)  # warm-up; (pooled (B, 1280), map (B, 112, 8, 8))
    for _ in range(args.repeat):
        for name, model in (("as loaded", plain), ("folded", folded)):
            start = time.perf_counter()
            model(x)
            seconds[name].append(time.perf_counter() - start)
    print(f"EfficientNet-Lite0 forward, batch (64, 3, 128, 128), {torch.get_num_threads()} threads:")
    for name, s in seconds.items():
        print(f"  {name:9s}  median {statistics.median(s):.3f} s  best {min(s):.3f} s  ({args.repeat} passes)")
    ratio = statistics.median(seconds["folded"]) / statistics.median(seconds["as loaded"])
    print(f"  folded / as loaded (medians): {ratio:.2f}")
    for i, what in enumerate(("pooled", "map")):
        a, b = outputs["as loaded"][i].float(), outputs["folded"][i].float()
        print(f"  largest difference, {what}: {(a - b).abs().max():.1e} (largest value {a.abs().max():.1f})")


if __name__ == "__main__":
    main()
