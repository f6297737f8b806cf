"""ResNets in torchvision naming (conv1, bn1, layer1..layer4), classifier removed.

``cifar_*`` variants use the 3x3 stride-1 stem without max-pool that small-image SSL work
uses for 32 px inputs (He et al. 2016, Sec. 4.2 for CIFAR; SimSiam, Chen & He 2021, App. D).
``resnet_tiny`` (one BasicBlock per stage, 8 channels) exists for fast tests only.

``zero_init_residual=True`` starts every residual block as the identity (the last BN of each
block has gamma = 0; Goyal et al. 2017, Sec. 5.1), as the official SimSiam builds its encoder
(facebookresearch/simsiam, simsiam/builder.py: ``base_encoder(num_classes=dim, zero_init_residual=True)``).
"""

from __future__ import annotations

from torch import nn
from torchvision.models import resnet as tv

from evalsuite.registry import ARCHS


def _headless(model: tv.ResNet, small_input: bool) -> tv.ResNet:
    if small_input:
        model.conv1 = nn.Conv2d(3, model.conv1.out_channels, 3, 1, 1, bias=False)
        model.maxpool = nn.Identity()
    model.num_features = model.fc.in_features
    model.fc = nn.Identity()
    model.small_input = small_input
    return model


def _register(name: str, factory, small_input: bool) -> None:
    """Register torchvision's ``factory`` as ``name``: classifier removed, 3x3 stem if ``small_input``."""

    def build(zero_init_residual: bool = False) -> nn.Module:
        return _headless(factory(zero_init_residual=zero_init_residual), small_input=small_input)

    build.__name__ = build.__qualname__ = name
    ARCHS.register_module(name, module=build)


for _name, _factory, _small in (("resnet18", tv.resnet18, False), ("resnet34", tv.resnet34, False),
                                ("resnet50", tv.resnet50, False), ("cifar_resnet18", tv.resnet18, True),
                                ("cifar_resnet50", tv.resnet50, True)):
    _register(_name, _factory, _small)


class _TinyResNet(tv.ResNet):
    """torchvision's ResNet with 8-16-32-64 channels and one BasicBlock per stage."""

    def __init__(self, zero_init_residual: bool = False) -> None:
        nn.Module.__init__(self)
        self._norm_layer = nn.BatchNorm2d
        self.dilation, self.groups, self.base_width = 1, 1, 64
        self.inplanes = 8
        self.conv1 = nn.Conv2d(3, 8, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.Identity()
        self.layer1 = self._make_layer(tv.BasicBlock, 8, 1)
        self.layer2 = self._make_layer(tv.BasicBlock, 16, 1, stride=2)
        self.layer3 = self._make_layer(tv.BasicBlock, 32, 1, stride=2)
        self.layer4 = self._make_layer(tv.BasicBlock, 64, 1, stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Identity()
        self.num_features = 64
        self.small_input = True
        for block in self.modules():
            if zero_init_residual and isinstance(block, tv.BasicBlock):
                nn.init.zeros_(block.bn2.weight)


@ARCHS.register_module("resnet_tiny")
def resnet_tiny(zero_init_residual: bool = False) -> nn.Module:
    return _TinyResNet(zero_init_residual)
