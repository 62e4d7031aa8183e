"""The reference networks the converter knows: how to build ours and where their weights live.

Each architecture maps our Keras layer names onto the module paths of the reference
PyTorch networks (``networks.py`` of pytorch-CycleGAN-and-pix2pix), whose ``state_dict``
keys are listed in ``shared/reference/pytorch-checkpoint-keys.txt``:

* ResNet generator: one ``nn.Sequential`` ``model``; residual blocks hold ``conv_block``.
* U-Net generator: nested blocks, each an ``nn.Sequential`` ``model`` whose index 1 (outermost:
  the block itself) or 3 holds the next inner block.
* PatchGAN: one ``nn.Sequential`` ``model``; pixel discriminator: ``net``.

Indices count every module of a ``Sequential``, parameter-free ones (padding, ReLU,
instance norm, dropout) included, which is why they skip numbers.
"""

import re
from dataclasses import dataclass

from .. import networks
from .errors import ConversionError

GENERATOR, DISCRIMINATOR = "generator", "discriminator"
CONVERTIBLE_NORMS = ("batch", "instance")


@dataclass(frozen=True)
class Settings:
    """What varies between checkpoints of one architecture (inferred or given by the user)."""

    norm: str
    input_nc: int
    output_nc: int
    ngf: int
    use_dropout: bool = False

    def describe(self, role):
        width = "ngf" if role == GENERATOR else "ndf"
        text = f"norm {self.norm}, {self.input_nc} input channels, {width} {self.ngf}"
        return text + (f", {self.output_nc} output channels" if role == GENERATOR else "")


class ResnetArch:
    """``resnet_{n}blocks``: c7s1, two stride-2 convs, n residual blocks, two up-convs, c7s1."""

    role = GENERATOR
    default_norm = "instance"
    first_key = "model.1.weight"

    def __init__(self, n_blocks):
        self.n_blocks = n_blocks

    @property
    def output_key(self):
        return f"model.{17 + self.n_blocks}.weight", 0  # Conv2d (out, in, kh, kw)

    def infer_dropout(self, state):
        """A dropout layer in the residual blocks shifts their second conv from index 5 to 6."""
        return "model.10.conv_block.5.weight" not in state and "model.10.conv_block.6.weight" in state

    def build(self, s, input_shape):
        return networks.build_resnet_generator(
            input_shape, output_channels=s.output_nc, ngf=s.ngf, n_blocks=self.n_blocks,
            norm=s.norm, use_dropout=s.use_dropout,
        )

    def layer_map(self, s):
        n = self.n_blocks
        pairs = [("in_conv", "model.1"), ("in_norm", "model.2")]
        for i, conv_index in ((1, 4), (2, 7)):
            pairs += [(f"down{i}_conv", f"model.{conv_index}"), (f"down{i}_norm", f"model.{conv_index + 1}")]
        second = 6 if s.use_dropout else 5
        for i in range(1, n + 1):
            block = f"model.{9 + i}.conv_block"
            pairs += [
                (f"res{i}_conv1", f"{block}.1"), (f"res{i}_norm1", f"{block}.2"),
                (f"res{i}_conv2", f"{block}.{second}"), (f"res{i}_norm2", f"{block}.{second + 1}"),
            ]
        for i, conv_index in ((1, 10 + n), (2, 13 + n)):
            pairs += [(f"up{i}_conv", f"model.{conv_index}"), (f"up{i}_norm", f"model.{conv_index + 1}")]
        return pairs + [("out_conv", f"model.{17 + n}")]


class UnetArch:
    """``unet_{size}``: ``num_downs`` nested skip blocks, outermost first."""

    role = GENERATOR
    default_norm = "batch"
    first_key = "model.model.0.weight"
    output_key = ("model.model.3.weight", 1)  # ConvTranspose2d (in, out, kh, kw)

    def __init__(self, num_downs):
        self.num_downs = num_downs

    def infer_dropout(self, state):
        return True  # dropout has no weights; keep the reference pix2pix default for fine-tuning

    def build(self, s, input_shape):
        return networks.build_unet_generator(
            input_shape, output_channels=s.output_nc, num_downs=self.num_downs, ngf=s.ngf,
            norm=s.norm, use_dropout=s.use_dropout,
        )

    @staticmethod
    def _block(level):
        """Module path of level ``level``'s ``Sequential`` (level 0 is the outermost block)."""
        return "model.model" if level == 0 else "model.model.1" + ".model.3" * (level - 1) + ".model"

    def layer_map(self, s):
        innermost = self.num_downs - 1
        pairs = [("down0_conv", "model.model.0"), ("up0_conv", "model.model.3")]
        for level in range(1, innermost):
            block = self._block(level)
            pairs += [
                (f"down{level}_conv", f"{block}.1"), (f"down{level}_norm", f"{block}.2"),
                (f"up{level}_conv", f"{block}.5"), (f"up{level}_norm", f"{block}.6"),
            ]
        block = self._block(innermost)  # [LeakyReLU, conv, ReLU, conv-transpose, norm]
        return pairs + [
            (f"down{innermost}_conv", f"{block}.1"),
            (f"up{innermost}_conv", f"{block}.3"),
            (f"up{innermost}_norm", f"{block}.4"),
        ]


class PatchganArch:
    """``basic`` (70x70, ``n_layers=3``) or ``n_layers_N`` PatchGAN discriminator."""

    role = DISCRIMINATOR
    default_norm = "batch"
    first_key = "model.0.weight"
    output_key = None

    def __init__(self, n_layers):
        self.n_layers = n_layers

    def infer_dropout(self, state):
        return False

    def build(self, s, input_shape):
        return networks.build_patchgan_discriminator(input_shape, ndf=s.ngf, n_layers=self.n_layers, norm=s.norm)

    def layer_map(self, s):
        pairs = [("conv1", "model.0")]
        for n in range(1, self.n_layers + 1):  # [conv, norm, LeakyReLU] from index 2 on
            pairs += [(f"conv{n + 1}", f"model.{3 * n - 1}"), (f"norm{n + 1}", f"model.{3 * n}")]
        return pairs + [("logits", f"model.{3 * self.n_layers + 2}")]


class PixelArch:
    """``pixel``: the 1x1 PatchGAN."""

    role = DISCRIMINATOR
    default_norm = "batch"
    first_key = "net.0.weight"
    output_key = None

    def infer_dropout(self, state):
        return False

    def build(self, s, input_shape):
        return networks.build_pixel_discriminator(input_shape, ndf=s.ngf, norm=s.norm)

    def layer_map(self, s):
        return [("conv1", "net.0"), ("conv2", "net.2"), ("norm2", "net.3"), ("logits", "net.5")]


ARCHITECTURES = {
    "resnet_9blocks": ResnetArch(9),
    "resnet_6blocks": ResnetArch(6),
    "unet_256": UnetArch(8),
    "unet_128": UnetArch(7),
    "basic": PatchganArch(3),
    "patchgan": PatchganArch(3),
    "pixel": PixelArch(),
}
ARCH_NAMES = (*ARCHITECTURES, "n_layers_N")


def get_architecture(name):
    """The architecture called ``name`` (the reference's ``--netG``/``--netD`` values)."""
    if name in ARCHITECTURES:
        return ARCHITECTURES[name]
    match = re.fullmatch(r"n_layers_(\d+)", name)
    if match and int(match.group(1)) >= 1:
        return PatchganArch(int(match.group(1)))
    raise ConversionError(f"unknown arch {name!r}; choose one of {', '.join(ARCH_NAMES)} (N >= 1)")
