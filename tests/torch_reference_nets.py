"""PyTorch versions of the reference pix2pix/CycleGAN networks, for the converter's tests.

Written from the layer description in ``shared/reference/published-models.md`` with the
module nesting that gives the reference's ``state_dict`` keys
(``shared/reference/pytorch-checkpoint-keys.txt``; ``test_convert`` checks they are equal).
Two details of the reference matter for exact outputs and are kept here on purpose:

* activations are in place (``inplace=True``), and a U-Net block returns
  ``torch.cat([x, model(x)])`` after ``model`` began with an in-place LeakyReLU on ``x``:
  the skip connection therefore carries LeakyReLU(x), not x. It makes no difference to
  the output, because the concatenation always goes into the enclosing block's ReLU and
  ReLU(LeakyReLU(x)) = ReLU(x); our Keras U-Net concatenates x itself;
* convolutions next to batch norm have no bias, others do (instance norm has no affine
  parameters).
"""

import torch
from torch import nn


def norm_layer(norm, channels):
    """``nn.BatchNorm2d`` or ``nn.InstanceNorm2d`` without affine parameters or running stats."""
    if norm == "batch":
        return nn.BatchNorm2d(channels)
    if norm == "instance":
        return nn.InstanceNorm2d(channels)
    raise ValueError(f"norm must be 'batch' or 'instance', got {norm!r}")


def uses_bias(norm):
    return norm != "batch"


class ResnetBlock(nn.Module):
    """``x + conv_block(x)``; conv_block = [pad, conv3, norm, ReLU, (dropout), pad, conv3, norm]."""

    def __init__(self, channels, norm, use_dropout=False):
        super().__init__()
        bias = uses_bias(norm)
        layers = [nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=bias),
                  norm_layer(norm, channels), nn.ReLU(True)]
        if use_dropout:
            layers.append(nn.Dropout(0.5))
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=bias), norm_layer(norm, channels)]
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    """c7s1-ngf, d2ngf, d4ngf, n_blocks x R4ngf, u2ngf, ungf, c7s1-out, tanh."""

    def __init__(self, input_nc=3, output_nc=3, ngf=64, n_blocks=9, norm="instance", use_dropout=False):
        super().__init__()
        bias = uses_bias(norm)
        layers = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, 7, bias=bias), norm_layer(norm, ngf), nn.ReLU(True)]
        for i in range(2):
            channels = ngf * 2**i
            layers += [nn.Conv2d(channels, 2 * channels, 3, stride=2, padding=1, bias=bias),
                       norm_layer(norm, 2 * channels), nn.ReLU(True)]
        layers += [ResnetBlock(4 * ngf, norm, use_dropout) for _ in range(n_blocks)]
        for i in range(2):
            channels = ngf * 2 ** (2 - i)
            layers += [nn.ConvTranspose2d(channels, channels // 2, 3, stride=2, padding=1, output_padding=1, bias=bias),
                       norm_layer(norm, channels // 2), nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x)


class UnetBlock(nn.Module):
    """One U-Net level: down (LeakyReLU, conv4 s2, norm), the inner block, up (ReLU, conv-T4 s2, norm).

    The outermost level has no activation or norm on its way down and ends in tanh without
    a skip; the innermost has no norm after its down conv and no inner block.
    """

    def __init__(self, outer_nc, inner_nc, input_nc=None, inner=None, outermost=False, norm="batch",
                 use_dropout=False):
        super().__init__()
        bias = uses_bias(norm)
        input_nc = outer_nc if input_nc is None else input_nc
        down = nn.Conv2d(input_nc, inner_nc, 4, stride=2, padding=1, bias=bias)
        if outermost:
            layers = [down, inner, nn.ReLU(True), nn.ConvTranspose2d(2 * inner_nc, outer_nc, 4, stride=2, padding=1),
                      nn.Tanh()]
        elif inner is None:
            layers = [nn.LeakyReLU(0.2, True), down, nn.ReLU(True),
                      nn.ConvTranspose2d(inner_nc, outer_nc, 4, stride=2, padding=1, bias=bias),
                      norm_layer(norm, outer_nc)]
        else:
            layers = [nn.LeakyReLU(0.2, True), down, norm_layer(norm, inner_nc), inner, nn.ReLU(True),
                      nn.ConvTranspose2d(2 * inner_nc, outer_nc, 4, stride=2, padding=1, bias=bias),
                      norm_layer(norm, outer_nc)]
            if use_dropout:
                layers.append(nn.Dropout(0.5))
        self.outermost = outermost
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        if self.outermost:
            return self.model(x)
        return torch.cat([x, self.model(x)], 1)  # x was changed in place by the first LeakyReLU


class UnetGenerator(nn.Module):
    """``num_downs`` levels: 8 is unet_256, 7 is unet_128."""

    def __init__(self, input_nc=3, output_nc=3, num_downs=8, ngf=64, norm="batch", use_dropout=True):
        super().__init__()
        block = UnetBlock(ngf * 8, ngf * 8, norm=norm)
        for _ in range(num_downs - 5):
            block = UnetBlock(ngf * 8, ngf * 8, inner=block, norm=norm, use_dropout=use_dropout)
        for mult in (4, 2, 1):
            block = UnetBlock(ngf * mult, ngf * mult * 2, inner=block, norm=norm)
        self.model = UnetBlock(output_nc, ngf, input_nc=input_nc, inner=block, outermost=True, norm=norm)

    def forward(self, x):
        return self.model(x)


class NLayerDiscriminator(nn.Module):
    """PatchGAN: conv4 s2 + LeakyReLU, then [conv4, norm, LeakyReLU] x n_layers, conv4 -> 1."""

    def __init__(self, input_nc=3, ndf=64, n_layers=3, norm="batch"):
        super().__init__()
        bias = uses_bias(norm)
        layers = [nn.Conv2d(input_nc, ndf, 4, stride=2, padding=1), nn.LeakyReLU(0.2, True)]
        channels = ndf
        for n in range(1, n_layers + 1):
            out = ndf * min(2**n, 8)
            stride = 2 if n < n_layers else 1
            layers += [nn.Conv2d(channels, out, 4, stride=stride, padding=1, bias=bias), norm_layer(norm, out),
                       nn.LeakyReLU(0.2, True)]
            channels = out
        layers.append(nn.Conv2d(channels, 1, 4, stride=1, padding=1))
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x)


class PixelDiscriminator(nn.Module):
    """1x1 PatchGAN: conv1 ndf, LeakyReLU, conv1 2ndf, norm, LeakyReLU, conv1 -> 1."""

    def __init__(self, input_nc=3, ndf=64, norm="batch"):
        super().__init__()
        bias = uses_bias(norm)
        self.net = nn.Sequential(
            nn.Conv2d(input_nc, ndf, 1), nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf, 2 * ndf, 1, bias=bias), norm_layer(norm, 2 * ndf), nn.LeakyReLU(0.2, True),
            nn.Conv2d(2 * ndf, 1, 1, bias=bias),
        )

    def forward(self, x):
        return self.net(x)


def randomize(net, seed=0):
    """Random weights with non-trivial batch-norm state, so a wrong mapping cannot hide.

    Conv weights keep PyTorch's default init (non-zero biases included); batch-norm scale and
    offset move away from 1 and 0, running statistics get random means, variances in
    [0.5, 2) and a non-zero counter.
    """
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):  # 1-D: StackGAN's G0
                n = module.num_features
                module.weight.copy_(1 + 0.2 * torch.randn(n, generator=generator))
                module.bias.copy_(0.2 * torch.randn(n, generator=generator))
                module.running_mean.copy_(0.2 * torch.randn(n, generator=generator))
                module.running_var.copy_(0.5 + 1.5 * torch.rand(n, generator=generator))
                module.num_batches_tracked.fill_(1000)
    return net.eval()


def build(name, seed=0):
    """One of the six published configurations, eval mode, random weights."""
    torch.manual_seed(seed)
    nets = {
        "resnet_9blocks": lambda: ResnetGenerator(n_blocks=9),
        "resnet_6blocks": lambda: ResnetGenerator(n_blocks=6),
        "unet_256": lambda: UnetGenerator(num_downs=8),
        "unet_128": lambda: UnetGenerator(num_downs=7),
        "patchgan_instance_3ch": lambda: NLayerDiscriminator(input_nc=3, norm="instance"),
        "patchgan_batch_6ch": lambda: NLayerDiscriminator(input_nc=6, norm="batch"),
    }
    return randomize(nets[name](), seed)
