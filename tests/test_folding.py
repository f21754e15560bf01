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


def _randomize_statistics(net):
    g = torch.Generator().manual_seed(0)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.rand(m.num_features, generator=g) - 0.5)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
    return net.eval()


@pytest.mark.parametrize("build", ["timm tf_efficientnet_lite0", "torchvision resnet50"])
def test_the_book_s_backbone_layouts_fold_completely_and_keep_their_outputs(build):
    """Every BatchNorm of timm's EfficientNet-Lite0 (Conv2dSame, BatchNormAct2d) and of torchvision's ResNet
    bottlenecks (ResNet-152's block, with downsample branches) follows its conv: all are folded, same outputs."""
    torch.manual_seed(0)
    if build.startswith("timm"):
        net = _import_timm().create_model("tf_efficientnet_lite0", pretrained=False)
    else:
        import torchvision

        net = torchvision.models.resnet50(weights=None)
    net = _randomize_statistics(net).requires_grad_(False)
    x = torch.randn(2, 3, 64, 64)  # (B, 3, S, S)
    with torch.no_grad():
        expected = net(x)  # (B, 1000) logits
        n_bn = sum(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())
        assert fold_batch_norm(net) == n_bn > 40
        assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())
        assert torch.allclose(net(x), expected, rtol=1e-4, atol=1e-4)


def test_a_batch_norm_of_another_width_is_not_folded_into_the_conv_before_it():
    """A BatchNorm registered after a conv but with another channel count cannot be that conv's: left alone."""
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 1), torch.nn.BatchNorm2d(3)).eval()
    assert fold_batch_norm(net) == 0
    assert isinstance(net[1], torch.nn.BatchNorm2d)
