"""PyTorch renderings of CUT's anti-aliased networks, for the parity and converter tests.

Written from the description of contrastive-unpaired-translation's ``networks.py`` (its
defaults ``no_antialias=False, no_antialias_up=False``), with the ``nn.Sequential`` nesting
that gives its checkpoints' keys (``model.4.weight``, ``model.7.filt``, ...):

* down: ``Downsample`` = reflection pad 1, then a depthwise conv with the fixed filter
  [1, 2, 1] x [1, 2, 1] / 16 at stride 2 (kept as the buffer ``filt``);
* up: ``Upsample`` = replication pad 1, a depthwise *transposed* conv with [1, 3, 3, 1] x
  [1, 3, 3, 1] / 16 (``filt``, 4x4), stride 2, padding 2, cropped by one pixel at the top/left
  and at the bottom/right; computed here that way, not as the bilinear resize our layer uses.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn


def _filter(taps, scale):
    row = torch.tensor([float(math.comb(taps - 1, k)) for k in range(taps)])
    square = row[:, None] * row[None, :]
    return square / square.sum() * scale


class Downsample(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.register_buffer("filt", _filter(3, 1.0)[None, None].repeat(channels, 1, 1, 1))

    def forward(self, x):
        return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), self.filt, stride=2, groups=x.shape[1])


class Upsample(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.register_buffer("filt", _filter(4, 4.0)[None, None].repeat(channels, 1, 1, 1))

    def forward(self, x):
        y = F.conv_transpose2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), self.filt, stride=2, padding=2,
                               groups=x.shape[1])
        return y[:, :, 1:-1, 1:-1]


class ResnetBlock(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), nn.InstanceNorm2d(channels), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), nn.InstanceNorm2d(channels))

    def forward(self, x):
        return x + self.conv_block(x)


class AntialiasedResnetGenerator(nn.Module):
    """Instance norm (no affine, conv biases on), ``n_blocks`` residual blocks at 1/4 size."""

    def __init__(self, input_nc=3, output_nc=3, ngf=64, n_blocks=9):
        super().__init__()
        layers = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, 7), nn.InstanceNorm2d(ngf), nn.ReLU(True)]
        for i in range(2):
            c = ngf * 2**i
            layers += [nn.Conv2d(c, 2 * c, 3, padding=1), nn.InstanceNorm2d(2 * c), nn.ReLU(True), Downsample(2 * c)]
        layers += [ResnetBlock(4 * ngf) for _ in range(n_blocks)]
        for i in range(2):
            c = ngf * 2 ** (2 - i)
            layers += [Upsample(c), nn.Conv2d(c, c // 2, 3, padding=1), nn.InstanceNorm2d(c // 2), nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x, layers=()):
        if not layers:
            return self.model(x)
        feats = []
        for index, module in enumerate(self.model):
            x = module(x)
            if index in layers:
                feats.append(x)
            if index == max(layers):
                return feats
        return feats


class AntialiasedPatchGAN(nn.Module):
    """CUT's ``basic`` D: conv4 s1 p1 + LeakyReLU + Downsample, norm from the second conv on."""

    def __init__(self, input_nc=3, ndf=64, n_layers=3):
        super().__init__()
        layers = [nn.Conv2d(input_nc, ndf, 4, padding=1), nn.LeakyReLU(0.2, True), Downsample(ndf)]
        mult = 1
        for n in range(1, n_layers):
            previous, mult = mult, min(2**n, 8)
            layers += [nn.Conv2d(ndf * previous, ndf * mult, 4, padding=1), nn.InstanceNorm2d(ndf * mult),
                       nn.LeakyReLU(0.2, True), Downsample(ndf * mult)]
        previous, mult = mult, min(2**n_layers, 8)
        layers += [nn.Conv2d(ndf * previous, ndf * mult, 4, padding=1), nn.InstanceNorm2d(ndf * mult),
                   nn.LeakyReLU(0.2, True), nn.Conv2d(ndf * mult, 1, 4, padding=1)]
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x)


def randomize(net, seed=0):
    """Weights and biases of order one over the layer's fan-in (so outputs are not all tanh-saturated)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, nn.Conv2d):
                fan_in = module.weight[0].numel()
                module.weight.copy_(torch.randn(module.weight.shape, generator=generator) / fan_in**0.5)
                module.bias.copy_(torch.randn(module.bias.shape, generator=generator) * 0.1)
    return net.eval()
