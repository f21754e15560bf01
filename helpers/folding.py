"""Folding batch normalization into the convolution before it, for inference (`fold_batch_norm`)."""

from __future__ import annotations

import torch
from torch.nn.utils.fusion import fuse_conv_bn_weights

__all__ = ["fold_batch_norm"]


def fold_batch_norm(net: torch.nn.Module) -> int:
    """Fold each BatchNorm2d that directly follows a Conv2d (sibling modules, in registration order) into the
    conv's weight and bias, in place; returns how many were folded (an int).

    With its running statistics frozen, batch normalization (Ioffe & Szegedy 2015) after a convolution,
    gamma (W x + b - mu) / sqrt(var + eps) + beta, is one convolution with W' = W gamma / sqrt(var + eps) and
    b' = (b - mu) gamma / sqrt(var + eps) + beta (`torch.nn.utils.fusion.fuse_conv_bn_weights`). The
    BatchNorm module is replaced by what it applied after normalizing (timm's `BatchNormAct2d`: its dropout
    and activation) or by an identity. The outputs change only by float rounding (about 1e-5 for
    EfficientNet-Lite0's features), and each activation map is read once less: EfficientNet-Lite0's forward
    pass took 12-14 % less time on 2 CPU cores (`benchmarks/bench_folding.py`; book/performance.md, "Batch
    normalization folded").
    A BatchNorm without running statistics (it normalizes with each batch's), or whose channel count is not
    the conv's output's, is left as it is. The pairing trusts that a network registers each conv just before
    the BatchNorm applied to its output (true of timm's EfficientNets and torchvision's ResNets, which the
    tests fold and compare with the unfolded network).
    Raises RuntimeError for a network in training mode, whose batch statistics are not constants.

    Used in: notebooks/00_data_features_devices.ipynb § What a pretrained CNN sees
    """
    if net.training:
        raise RuntimeError("fold_batch_norm needs a network in eval mode (call .eval() first)")
    folded = 0
    for parent in list(net.modules()):
        children = list(parent.named_children())
        for (_, conv), (bn_name, bn) in zip(children, children[1:]):
            if not (isinstance(conv, torch.nn.Conv2d) and isinstance(bn, torch.nn.BatchNorm2d)):
                continue
            if bn.running_mean is None or conv.out_channels != bn.num_features:
                continue  # no running statistics (it normalizes each batch), or not this conv's output
            conv.weight, conv.bias = fuse_conv_bn_weights(
                conv.weight, conv.bias, bn.running_mean, bn.running_var, bn.eps, bn.weight, bn.bias
            )
            after = [m for m in (getattr(bn, "drop", None), getattr(bn, "act", None)) if isinstance(m, torch.nn.Module)]
            setattr(parent, bn_name, torch.nn.Sequential(*after) if after else torch.nn.Identity())
            folded += 1
    return folded
