"""PyTorch versions of the reference StackGAN networks, for ``test_stackgan_networks``.

Written from the layer lists of hanzhanggit/StackGAN-Pytorch ``code/model.py`` with the same
module nesting (so the ``state_dict`` keys are the reference's at its sizes), parametrised
by the sizes instead of the global ``cfg``. Three changes, all for testing:

* the conditioning augmentation takes ``eps`` as an argument instead of drawing it;
* ``D_GET_LOGITS`` has no final Sigmoid (our heads return logits);
* the number of up-blocks of G0 and of stride-2 convolutions of D0/D1 follows the image size
  (``log2(S/4)``, the reference's 4 at 64 px and 6 at 256 px), and G1 tiles ``c`` to its
  encoder's output size (the reference's fixed 16x16 at 64 px input).
"""

import math

import torch
from torch import nn

from torch_reference_nets import randomize  # noqa: F401 (the tests call ref.randomize)


def conv3x3(in_planes, out_planes):
    return nn.Conv2d(in_planes, out_planes, 3, stride=1, padding=1, bias=False)


def up_block(in_planes, out_planes):
    return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), conv3x3(in_planes, out_planes),
                         nn.BatchNorm2d(out_planes), nn.ReLU(True))


class ResBlock(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.block = nn.Sequential(conv3x3(channels, channels), nn.BatchNorm2d(channels), nn.ReLU(True),
                                   conv3x3(channels, channels), nn.BatchNorm2d(channels))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        out = self.block(x)
        out += x
        return self.relu(out)


class CANet(nn.Module):
    def __init__(self, embedding_dim, condition_dim):
        super().__init__()
        self.c_dim = condition_dim
        self.fc = nn.Linear(embedding_dim, 2 * condition_dim, bias=True)
        self.relu = nn.ReLU()

    def encode(self, embedding):
        x = self.relu(self.fc(embedding))
        return x[:, : self.c_dim], x[:, self.c_dim :]

    def forward(self, embedding, eps):
        mu, logvar = self.encode(embedding)
        return eps * torch.exp(0.5 * logvar) + mu, mu, logvar


class DGetLogits(nn.Module):
    def __init__(self, ndf, nef, bcondition=True):
        super().__init__()
        self.ef_dim = nef
        self.bcondition = bcondition
        if bcondition:
            self.outlogits = nn.Sequential(conv3x3(ndf * 8 + nef, ndf * 8), nn.BatchNorm2d(ndf * 8),
                                           nn.LeakyReLU(0.2, inplace=True), nn.Conv2d(ndf * 8, 1, 4, stride=4))
        else:
            self.outlogits = nn.Sequential(nn.Conv2d(ndf * 8, 1, 4, stride=4))

    def forward(self, h_code, c_code=None):
        if self.bcondition and c_code is not None:
            c_code = c_code.view(-1, self.ef_dim, 1, 1).repeat(1, 1, 4, 4)
            h_code = torch.cat((h_code, c_code), 1)
        return self.outlogits(h_code).view(-1)


def doublings(image_size):
    return int(round(math.log2(image_size // 4)))


class Stage1G(nn.Module):
    def __init__(self, embedding_dim=1024, noise_dim=100, condition_dim=128, gf_dim=128, image_size=64):
        super().__init__()
        self.gf_dim = ngf = gf_dim * 8
        self.n_up = doublings(image_size)
        self.ca_net = CANet(embedding_dim, condition_dim)
        self.fc = nn.Sequential(nn.Linear(noise_dim + condition_dim, ngf * 4 * 4, bias=False),
                                nn.BatchNorm1d(ngf * 4 * 4), nn.ReLU(True))
        for i in range(self.n_up):
            setattr(self, f"upsample{i + 1}", up_block(ngf // 2**i, ngf // 2 ** (i + 1)))
        self.img = nn.Sequential(conv3x3(ngf // 2**self.n_up, 3), nn.Tanh())

    def forward(self, embedding, z, eps):
        c_code, mu, logvar = self.ca_net(embedding, eps)
        h = self.fc(torch.cat((z, c_code), 1)).view(-1, self.gf_dim, 4, 4)
        for i in range(self.n_up):
            h = getattr(self, f"upsample{i + 1}")(h)
        return self.img(h), mu, logvar


def encode_img_layers(df_dim, n, top):
    layers, channels = [], 3
    for i in range(n):
        out = df_dim * 2 ** (i + top + 1 - n)
        layers.append(nn.Conv2d(channels, out, 4, 2, 1, bias=False))
        if i:
            layers.append(nn.BatchNorm2d(out))
        layers.append(nn.LeakyReLU(0.2, inplace=True))
        channels = out
    return layers


class Stage1D(nn.Module):
    def __init__(self, df_dim=64, condition_dim=128, image_size=64):
        super().__init__()
        self.encode_img = nn.Sequential(*encode_img_layers(df_dim, doublings(image_size), top=3))
        self.get_cond_logits = DGetLogits(df_dim, condition_dim)
        self.get_uncond_logits = None

    def forward(self, image):
        return self.encode_img(image)


class Stage2G(nn.Module):
    def __init__(self, stage1, embedding_dim=1024, condition_dim=128, gf_dim=128, r_num=4):
        super().__init__()
        ngf = gf_dim
        self.ef_dim = condition_dim
        self.STAGE1_G = stage1
        for param in self.STAGE1_G.parameters():
            param.requires_grad = False
        self.ca_net = CANet(embedding_dim, condition_dim)
        self.encoder = nn.Sequential(
            conv3x3(3, ngf), nn.ReLU(True),
            nn.Conv2d(ngf, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
            nn.Conv2d(ngf * 2, ngf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True))
        self.hr_joint = nn.Sequential(conv3x3(condition_dim + ngf * 4, ngf * 4), nn.BatchNorm2d(ngf * 4), nn.ReLU(True))
        self.residual = nn.Sequential(*[ResBlock(ngf * 4) for _ in range(r_num)])
        self.upsample1 = up_block(ngf * 4, ngf * 2)
        self.upsample2 = up_block(ngf * 2, ngf)
        self.upsample3 = up_block(ngf, ngf // 2)
        self.upsample4 = up_block(ngf // 2, ngf // 4)
        self.img = nn.Sequential(conv3x3(ngf // 4, 3), nn.Tanh())

    def forward(self, embedding, z, eps1, eps2):
        stage1_img, _, _ = self.STAGE1_G(embedding, z, eps1)
        stage1_img = stage1_img.detach()
        encoded = self.encoder(stage1_img)
        c_code, mu, logvar = self.ca_net(embedding, eps2)
        c_code = c_code.view(-1, self.ef_dim, 1, 1).repeat(1, 1, encoded.shape[2], encoded.shape[3])
        h = self.residual(self.hr_joint(torch.cat([encoded, c_code], 1)))
        h = self.upsample4(self.upsample3(self.upsample2(self.upsample1(h))))
        return stage1_img, self.img(h), mu, logvar


class Stage2D(nn.Module):
    def __init__(self, df_dim=64, condition_dim=128, image_size=256):
        super().__init__()
        ndf = df_dim
        layers = encode_img_layers(ndf, doublings(image_size), top=5)
        layers += [conv3x3(ndf * 32, ndf * 16), nn.BatchNorm2d(ndf * 16), nn.LeakyReLU(0.2, inplace=True),
                   conv3x3(ndf * 16, ndf * 8), nn.BatchNorm2d(ndf * 8), nn.LeakyReLU(0.2, inplace=True)]
        self.encode_img = nn.Sequential(*layers)
        self.get_cond_logits = DGetLogits(ndf, condition_dim, bcondition=True)
        self.get_uncond_logits = DGetLogits(ndf, condition_dim, bcondition=False)

    def forward(self, image):
        return self.encode_img(image)


def count(module, trainable_only=False):
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)
