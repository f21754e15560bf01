"""helpers/folding.py: batch normalization folded into the convolution before it gives the same outputs."""

import copy

import pytest
import torch

from helpers.features import _import_timm
from helpers.folding import fold_batch_norm

BatchNormAct2d = _import_timm().layers.BatchNormAct2d  # timm without its import-time FutureWarning


class Block(torch.nn.Module):
    """A conv and a timm BatchNormAct2d as sibling attributes (the layout of timm's EfficientNet blocks)."""

    def __init__(self):
        super().__init__()
        self.conv_pw = torch.nn.Conv2d(8, 16, 1, bias=False)
        self.bn1 = BatchNormAct2d(16, act_layer=torch.nn.ReLU6)

    def forward(self, x):  # (B, 8, H, W) -> (B, 16, H, W)
        return self.bn1(self.conv_pw(x))


def _net():
    """Conv + BN + ReLU in a Sequential (torchvision's layout), a conv with a bias, a timm block, a final BN."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False),
        torch.nn.BatchNorm2d(8),
        torch.nn.ReLU(),
        Block(),
        torch.nn.Conv2d(16, 4, 3, padding=1, bias=True),
        torch.nn.BatchNorm2d(4),
    )
    for m in net.modules():  # running statistics and affine parameters far from the identity
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.2, 3)
            m.weight.data.uniform_(0.5, 2)
            m.bias.data.uniform_(-1, 1)
    return net.eval()


def test_folding_keeps_the_outputs_and_removes_every_batch_norm():
    net = _net()
    x = torch.randn(5, 3, 16, 16)  # (B, 3, H, W)
    expected = net(x)  # (B, 4, 8, 8)
    folded = copy.deepcopy(net)
    assert fold_batch_norm(folded) == 3
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    assert isinstance(folded[3].bn1, torch.nn.Sequential)  # BatchNormAct2d -> its dropout and activation
    assert torch.allclose(folded(x), expected, atol=1e-5)
    assert not torch.allclose(net[0](x), folded[0](x))  # the convs themselves changed (the fold is real)


def test_a_network_in_training_mode_is_refused():
    with pytest.raises(RuntimeError, match="eval mode"):
        fold_batch_norm(_net().train())


def test_a_batch_norm_without_running_statistics_is_left_alone():
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 1), torch.nn.BatchNorm2d(4, track_running_stats=False)).eval()
    assert fold_batch_norm(net) == 0
    assert isinstance(net[1], torch.nn.BatchNorm2d)
