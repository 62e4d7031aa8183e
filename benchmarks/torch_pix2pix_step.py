"""PyTorch baseline for the pix2pix train step, for side-by-side timing on the same CPU.

    python benchmarks/torch_pix2pix_step.py [size] [steps] [--bf16] [--channels-last]

The reference layout (Isola et al. 2017, and the authors' PyTorch code's defaults): ``unet_256``
generator (at other sizes a U-Net of depth log2(size), as ours) with batch norm and dropout 0.5
in the three innermost 512-channel decoder blocks, the 70x70 conditional PatchGAN (6 input channels) with batch norm, vanilla GAN loss with
logits, L1 weight 100, Adam 2e-4 / beta1 0.5, batch 1. The step does what the reference's
``optimize_parameters`` does: G(A) once, the D update on (A, B) and (A, G(A)) with the loss
halved, then the G update against the updated D. It runs in its own virtual environment with
torch (``train_step.py --torch`` makes one); the package never imports torch for training.

Prints the torch version line, the parameter counts (54,413,955 and 2,768,705, as the
reference), and ``first_step_s S step_s S img_per_s N``, the format of
``../shared/bench/torch_cyclegan_step.py``, whose flags it takes: ``--bf16`` runs the step under
``torch.autocast("cpu", dtype=torch.bfloat16)`` and ``--channels-last`` stores models and inputs NHWC.
"""

import contextlib
import sys
import time

import torch
from torch import nn


def unet_block(outer, inner, submodule=None, outermost=False, innermost=False, dropout=False, in_channels=None):
    """One level of the reference U-Net: down, the inner levels, up, and a skip concatenation."""
    in_channels = in_channels or outer
    down = [nn.Conv2d(in_channels, inner, 4, 2, 1, bias=False)]
    if outermost:
        up = [nn.ReLU(True), nn.ConvTranspose2d(inner * 2, outer, 4, 2, 1), nn.Tanh()]
        return nn.Sequential(*down, submodule, *up)
    if innermost:
        up = [nn.ReLU(True), nn.ConvTranspose2d(inner, outer, 4, 2, 1, bias=False), nn.BatchNorm2d(outer)]
        return SkipBlock(nn.Sequential(nn.LeakyReLU(0.2, True), *down, *up))
    down = [nn.LeakyReLU(0.2, True), *down, nn.BatchNorm2d(inner)]
    up = [nn.ReLU(True), nn.ConvTranspose2d(inner * 2, outer, 4, 2, 1, bias=False), nn.BatchNorm2d(outer)]
    return SkipBlock(nn.Sequential(*down, submodule, *up, *([nn.Dropout(0.5)] if dropout else [])))


class SkipBlock(nn.Module):
    def __init__(self, body):
        super().__init__()
        self.body = body

    def forward(self, x):
        return torch.cat([x, self.body(x)], 1)


def unet(num_downs, ngf=64):
    """The reference ``UnetGenerator``: ``unet_256`` has 8 downsamplings; at other sizes the
    depth is log2(size), as tfgan_translate derives it (``unet_128`` at 128 px)."""
    block = unet_block(ngf * 8, ngf * 8, innermost=True)
    for _ in range(num_downs - 5):
        block = unet_block(ngf * 8, ngf * 8, block, dropout=True)
    block = unet_block(ngf * 4, ngf * 8, block)
    block = unet_block(ngf * 2, ngf * 4, block)
    block = unet_block(ngf, ngf * 2, block)
    return unet_block(3, ngf, block, outermost=True, in_channels=3)


def patchgan(in_channels=6, ndf=64):
    layers = [nn.Conv2d(in_channels, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
    for a, b, stride in ((1, 2, 2), (2, 4, 2), (4, 8, 1)):
        layers += [nn.Conv2d(ndf * a, ndf * b, 4, stride, 1, bias=False), nn.BatchNorm2d(ndf * b),
                   nn.LeakyReLU(0.2, True)]
    return nn.Sequential(*layers, nn.Conv2d(ndf * 8, 1, 4, 1, 1))


def main():
    flags = {arg for arg in sys.argv[1:] if arg.startswith("--")}
    args = [arg for arg in sys.argv[1:] if not arg.startswith("--")]
    bf16, channels_last = "--bf16" in flags, "--channels-last" in flags
    size = int(args[0]) if args else 256
    steps = int(args[1]) if len(args) > 1 else 5
    torch.manual_seed(0)
    generator, discriminator = unet(size.bit_length() - 1), patchgan()
    g_opt = torch.optim.Adam(generator.parameters(), 2e-4, betas=(0.5, 0.999))
    d_opt = torch.optim.Adam(discriminator.parameters(), 2e-4, betas=(0.5, 0.999))
    bce, l1 = nn.BCEWithLogitsLoss(), nn.L1Loss()
    a, b = torch.randn(1, 3, size, size), torch.randn(1, 3, size, size)
    if channels_last:
        for model in (generator, discriminator):
            model.to(memory_format=torch.channels_last)
        a, b = (x.contiguous(memory_format=torch.channels_last) for x in (a, b))
    precision = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if bf16 else contextlib.nullcontext

    def step():
        with precision():
            return optimize()

    def optimize():
        fake = generator(a)
        for p in discriminator.parameters():
            p.requires_grad_(True)
        d_opt.zero_grad()
        pred_fake = discriminator(torch.cat([a, fake.detach()], 1))
        pred_real = discriminator(torch.cat([a, b], 1))
        d_loss = 0.5 * (bce(pred_fake, torch.zeros_like(pred_fake)) + bce(pred_real, torch.ones_like(pred_real)))
        d_loss.backward()
        d_opt.step()
        for p in discriminator.parameters():
            p.requires_grad_(False)
        g_opt.zero_grad()
        pred_fake = discriminator(torch.cat([a, fake], 1))
        g_loss = bce(pred_fake, torch.ones_like(pred_fake)) + 100 * l1(fake, b)
        g_loss.backward()
        g_opt.step()
        return g_loss.item(), d_loss.item()

    started = time.time()
    step()
    first = time.time() - started
    started = time.time()
    for _ in range(steps):
        step()
    per_step = (time.time() - started) / steps
    print(f"torch {torch.__version__} threads={torch.get_num_threads()} size={size} pix2pix unet_{size} "
          f"bf16={bf16} channels_last={channels_last}")
    print(f"G params {sum(p.numel() for p in generator.parameters())} "
          f"D params {sum(p.numel() for p in discriminator.parameters())}")
    print(f"first_step_s {first:.2f} step_s {per_step:.3f} img_per_s {1 / per_step:.3f}")


if __name__ == "__main__":
    main()
