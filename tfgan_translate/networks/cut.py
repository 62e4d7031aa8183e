"""CUT's networks beyond the CycleGAN ones: the generator's feature encoder, the PatchNCE head
and the reference's weight init (Park et al., 2020).

PatchNCE compares patches of the input with the patches of the output at the same places,
through the generator's own encoder: the reference takes the outputs of the modules
``nce_layers = 0,4,8,12,16`` of its ``ResnetGenerator``'s ``nn.Sequential`` (the padded input,
the two downsampling convolutions, the first and fifth residual blocks).
:func:`resnet_reference_sequence` lists our layer names in that module order, so the same
indices pick the same tensors; each sampled feature vector then goes through a small MLP
(``Linear(C, 256) - ReLU - Linear(256, 256)``, the reference's ``mlp_sample`` ``PatchSampleF``)
and is L2-normalised.
"""

import keras
import numpy as np

from ..layers import L2Normalize


def resnet_reference_sequence(n_blocks, downsampling="strided", upsampling="transpose"):
    """Our ResNet generator's layer names, one per module of the reference's ``nn.Sequential``
    (CUT's ``ResnetGenerator``; pytorch-CycleGAN-and-pix2pix's for ``strided``/``transpose``)."""
    names = ["in_reflect", "in_conv", "in_norm", "in_relu"]
    for i in (1, 2):
        names += [f"down{i}_conv", f"down{i}_norm", f"down{i}_relu"]
        if downsampling == "antialiased":
            names.append(f"down{i}_blur")
    names += [f"res{i}_add" for i in range(1, n_blocks + 1)]
    for i in (1, 2):
        if upsampling == "antialiased":
            names.append(f"up{i}_conv_blur")
        names += [f"up{i}_conv", f"up{i}_norm", f"up{i}_relu"]
    return names + ["out_reflect", "out_conv", "tanh"]


def build_feature_encoder(generator, layer_ids, n_blocks, downsampling="strided", upsampling="transpose"):
    """A model sharing ``generator``'s layers that returns the outputs of the reference modules
    ``layer_ids`` (its weights are the generator's: training either trains both)."""
    sequence = resnet_reference_sequence(n_blocks, downsampling, upsampling)
    outputs = []
    for index in layer_ids:
        if not 0 <= index < len(sequence):
            raise ValueError(f"nce_layers: layer {index} does not exist; the generator has modules 0..{len(sequence) - 1}")
        try:
            outputs.append(generator.get_layer(sequence[index]).output)
        except ValueError:
            raise ValueError(f"nce_layers: module {index} ({sequence[index]}) has no layer with norm 'none'; "
                             "choose another layer") from None
    return keras.Model(generator.input, outputs, name=f"{generator.name}_encoder")


def build_patch_head(channels, units=256, name="patch_head"):
    """One MLP per feature layer: ``[N, C_l]`` -> ``[N, units]``, L2-normalised.

    Computed in float32 whatever the precision policy: with the reference's init (Xavier, gain
    0.02) its outputs start near 1e-5, whose squares underflow float16, which would break the
    normalisation. Layer names follow the reference's keys (``mlp_0.0`` and ``mlp_0.2``).
    """
    inputs, outputs = [], []
    for index, width in enumerate(channels):
        x = keras.Input((int(width),), name=f"features_{index}")
        inputs.append(x)
        y = keras.layers.Dense(units, activation="relu", name=f"mlp_{index}.0", dtype="float32")(x)
        y = keras.layers.Dense(units, name=f"mlp_{index}.2", dtype="float32")(y)
        outputs.append(L2Normalize(name=f"mlp_{index}_l2", dtype="float32")(y))
    return keras.Model(inputs, outputs, name=name)


def xavier_normal_init(model, gain=0.02, rng=None):
    """Re-draw every convolution and dense kernel from N(0, gain^2 2 / (fan_in + fan_out)) and
    zero the biases: CUT's ``init_type=xavier, init_gain=0.02`` (PyTorch's ``xavier_normal_``,
    not truncated; fan = channels x kernel area). ``rng``: a NumPy generator (default: the global
    one, which ``seeded`` seeds)."""
    draw = rng.normal if rng is not None else np.random.normal
    for layer in model.layers:
        kernel = getattr(layer, "kernel", None)
        if kernel is None:
            continue
        shape = tuple(kernel.shape)
        area = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
        fan_in, fan_out = shape[-2] * area, shape[-1] * area
        std = gain * np.sqrt(2.0 / (fan_in + fan_out))
        kernel.assign(draw(0.0, std, shape).astype(np.float32))
        bias = getattr(layer, "bias", None)
        if bias is not None:
            bias.assign(np.zeros(bias.shape, np.float32))
    return model
