"""The reference networks the converter knows: how to build ours and where their weights live.

Each architecture maps our Keras layer names onto the module paths of the reference
PyTorch networks (``networks.py`` of pytorch-CycleGAN-and-pix2pix), whose ``state_dict``
keys are listed in ``shared/reference/pytorch-checkpoint-keys.txt``:

* ResNet generator: one ``nn.Sequential`` ``model``; residual blocks hold ``conv_block``.
* U-Net generator: nested blocks, each an ``nn.Sequential`` ``model`` whose index 1 (outermost:
  the block itself) or 3 holds the next inner block.
* PatchGAN: one ``nn.Sequential`` ``model``; pixel discriminator: ``net``.
* CUT's (contrastive-unpaired-translation) anti-aliased ResNet generator and PatchGAN
  (``cut_resnet_9blocks``, ``cut_basic``, ...): the same ``Sequential`` layouts with a
  ``Downsample`` after each stride-1 downsampling conv and an ``Upsample`` before each
  upsampling conv; those hold only a fixed blur filter, saved as the buffer ``filt``, which
  the converter checks and skips (:meth:`fixed_buffers`).

Indices count every module of a ``Sequential``, parameter-free ones (padding, ReLU,
instance norm, dropout) included, which is why they skip numbers.
"""

import re
from dataclasses import dataclass

import numpy as np

from .. import networks
from ..layers import binomial_filter
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


def blur_filter(taps, channels, scale=1.0):
    """CUT's ``filt`` buffer: the binomial outer product normalised to 1 (times ``scale``), per channel."""
    return np.tile((binomial_filter(taps) * np.float32(scale))[None, None], (channels, 1, 1, 1))


class ResnetArch:
    """``resnet_{n}blocks``: c7s1, two stride-2 convs, n residual blocks, two up-convs, c7s1.

    ``antialias``: CUT's variant, [conv3 s1, norm, ReLU, Downsample] down and [Upsample,
    conv3, norm, ReLU] up, which shifts every later index by one per blur module.
    """

    role = GENERATOR
    default_norm = "instance"
    first_key = "model.1.weight"

    def __init__(self, n_blocks, antialias=False):
        self.n_blocks = n_blocks
        self.antialias = antialias

    def _indices(self):
        """Module indices of the down convs, the first residual block, the up convs and the output conv."""
        n, extra = self.n_blocks, int(self.antialias)
        down = (4, 7 + extra)
        first_block = 10 + 2 * extra
        up_start = first_block + n
        up = (up_start + extra, up_start + 3 + 2 * extra)
        return down, first_block, up, up[1] + 4

    @property
    def output_key(self):
        return f"model.{self._indices()[3]}.weight", 0  # Conv2d (out, in, kh, kw)

    def infer_dropout(self, state):
        """A dropout layer in the residual blocks shifts their second conv from index 5 to 6."""
        block = f"model.{self._indices()[1]}.conv_block"
        return f"{block}.5.weight" not in state and f"{block}.6.weight" in state

    def build(self, s, input_shape):
        blur = "antialiased" if self.antialias else None
        return networks.build_resnet_generator(
            input_shape, output_channels=s.output_nc, ngf=s.ngf, n_blocks=self.n_blocks,
            norm=s.norm, use_dropout=s.use_dropout, upsampling=blur or "transpose", downsampling=blur or "strided",
        )

    def layer_map(self, s):
        down, first_block, up, out = self._indices()
        pairs = [("in_conv", "model.1"), ("in_norm", "model.2")]
        for i, conv_index in zip((1, 2), down):
            pairs += [(f"down{i}_conv", f"model.{conv_index}"), (f"down{i}_norm", f"model.{conv_index + 1}")]
        second = 6 if s.use_dropout else 5
        for i in range(1, self.n_blocks + 1):
            block = f"model.{first_block - 1 + i}.conv_block"
            pairs += [
                (f"res{i}_conv1", f"{block}.1"), (f"res{i}_norm1", f"{block}.2"),
                (f"res{i}_conv2", f"{block}.{second}"), (f"res{i}_norm2", f"{block}.{second + 1}"),
            ]
        for i, conv_index in zip((1, 2), up):
            pairs += [(f"up{i}_conv", f"model.{conv_index}"), (f"up{i}_norm", f"model.{conv_index + 1}")]
        return pairs + [("out_conv", f"model.{out}")]

    def fixed_buffers(self, s):
        """``{key: value}`` of the blur filters a CUT checkpoint holds (none for CycleGAN's)."""
        if not self.antialias:
            return {}
        (_, second_down), _, (first_up, second_up), _ = self._indices()
        return {
            "model.7.filt": blur_filter(3, 2 * s.ngf), f"model.{second_down + 3}.filt": blur_filter(3, 4 * s.ngf),
            f"model.{first_up - 1}.filt": blur_filter(4, 4 * s.ngf, 4.0),
            f"model.{second_up - 1}.filt": blur_filter(4, 2 * s.ngf, 4.0),
        }


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

    def fixed_buffers(self, s):
        return {}

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
    """``basic`` (70x70, ``n_layers=3``) or ``n_layers_N`` PatchGAN discriminator; ``antialias``:
    CUT's, whose stride-2 convs are stride-1 convs followed by a ``Downsample``."""

    role = DISCRIMINATOR
    default_norm = "batch"
    first_key = "model.0.weight"
    output_key = None

    def __init__(self, n_layers, antialias=False):
        self.n_layers = n_layers
        self.antialias = antialias

    def infer_dropout(self, state):
        return False

    def build(self, s, input_shape):
        return networks.build_patchgan_discriminator(input_shape, ndf=s.ngf, n_layers=self.n_layers, norm=s.norm,
                                                     downsampling="antialiased" if self.antialias else "strided")

    def _conv_indices(self):
        """Module index of each conv after the first: [conv, norm, LeakyReLU(, Downsample)] blocks."""
        index, indices = 2 + int(self.antialias), []
        for n in range(1, self.n_layers + 1):
            indices.append(index)
            index += 3 + int(self.antialias and n < self.n_layers)
        return indices, index

    def layer_map(self, s):
        pairs = [("conv1", "model.0")]
        indices, logits = self._conv_indices()
        for n, index in enumerate(indices, start=1):
            pairs += [(f"conv{n + 1}", f"model.{index}"), (f"norm{n + 1}", f"model.{index + 1}")]
        return pairs + [("logits", f"model.{logits}")]

    def fixed_buffers(self, s):
        if not self.antialias:
            return {}
        indices, _ = self._conv_indices()
        buffers = {"model.2.filt": blur_filter(3, s.ngf)}
        for n, index in enumerate(indices[:-1], start=1):
            buffers[f"model.{index + 3}.filt"] = blur_filter(3, s.ngf * min(2**n, 8))
        return buffers


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

    def fixed_buffers(self, s):
        return {}


ARCHITECTURES = {
    "resnet_9blocks": ResnetArch(9),
    "resnet_6blocks": ResnetArch(6),
    "cut_resnet_9blocks": ResnetArch(9, antialias=True),
    "cut_resnet_6blocks": ResnetArch(6, antialias=True),
    "unet_256": UnetArch(8),
    "unet_128": UnetArch(7),
    "basic": PatchganArch(3),
    "patchgan": PatchganArch(3),
    "cut_basic": PatchganArch(3, antialias=True),
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
