"""Translate an image too large for memory tile by tile, with the whole image's instance-norm statistics.

Instance normalisation takes each channel's mean and variance over the whole image. Run per
tile, every tile would be normalised by its own statistics: a dark tile brightened, a sky tile
given texture, and a visible seam at every tile edge. So the statistics are computed first, for
the whole image, exactly: for each instance-norm layer in order, every tile is run up to that
layer's input (the earlier layers already using the whole image's statistics) and the layer's
input is summed over the tile's core (float64 sums of ``x`` and ``x**2``); the last pass runs the
generator with every layer's statistics fixed. That costs ``K + 1`` passes over the image for
``K`` instance-norm layers (the first passes stop early, so about ``K / 2 + 1`` full passes), and
only tiles are ever in memory besides the input and the output.

A tile is its core plus a halo of context on each side (``halo`` pixels, clipped at the image's
borders, where the generator pads as it does untiled); cores are aligned to the generator's size
multiple, so the strided convolutions see the same pixel grid as untiled. Each output pixel is a
blend of the tiles that reach it, weighted 1 in a tile's core and falling linearly to 0 across
``blend`` pixels of its halo (half the halo). The default halo is twice the generator's receptive
radius, so every blended pixel has its whole receptive field inside its tile and the result is
the untiled one up to float rounding; a thinner halo (``--tile-halo``) trades exactness for
memory, and the blend makes what it leaves out fade instead of forming a seam. Batch-norm generators (pix2pix's U-Net) use
their moving statistics in inference mode and need no statistics pass.
"""

import keras
import numpy as np
import tensorflow as tf

from .. import layers
from .inference import _fit, size_multiple, translate_array

def _reach(layer, radius, spacing):
    """``(radius, spacing)`` after ``layer`` of its input's: how far back (in image pixels) a value
    reaches, and how many image pixels one of its pixels spans."""
    from ..networks.pix2pixhd import AvgPoolDownsample

    if isinstance(layer, keras.layers.Conv2DTranspose):
        spacing /= layer.strides[0]
        return radius + (layer.kernel_size[0] - 1) / 2 * spacing, spacing
    if isinstance(layer, keras.layers.Conv2D):
        return radius + (layer.kernel_size[0] - 1) / 2 * layer.dilation_rate[0] * spacing, spacing * layer.strides[0]
    if isinstance(layer, (layers.BlurPool2D, AvgPoolDownsample)):  # 3x3 window, stride 2
        return radius + spacing, spacing * 2
    if isinstance(layer, (keras.layers.AveragePooling2D, keras.layers.MaxPooling2D)):
        return radius + (layer.pool_size[0] - 1) / 2 * spacing, spacing * layer.strides[0]
    if isinstance(layer, layers.BlurUpsample2D):  # x2, then a 4x4 blur
        return radius + 1.5 * spacing / 2, spacing / 2
    if isinstance(layer, keras.layers.UpSampling2D):
        return radius, spacing / layer.size[0]
    return radius, spacing


def _tensors(value):
    return list(keras.tree.flatten(value))


def receptive_radius(model):
    """An upper bound, in input pixels, on how far an output pixel's value reaches into its input,
    following the model's graph (branches at other resolutions, such as pix2pixHD's global
    generator inside its local enhancer, count at their own pixel spacing): a halo of at least
    this much makes a tile's core exactly the untiled result."""
    reach = {id(t): (0.0, 1.0) for t in model.inputs}
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        try:
            inputs, outputs = _tensors(layer.input), _tensors(layer.output)
        except (AttributeError, ValueError):  # a layer called more than once: the chain bound
            inputs, outputs = [], []
        known = [reach[id(t)] for t in inputs if id(t) in reach]
        radius = max((r for r, _ in known), default=max(r for r, _ in reach.values()))
        spacing = max((s for _, s in known), default=1.0)
        after = _reach(layer, radius, spacing)
        for tensor in outputs:
            reach[id(tensor)] = after
    return int(np.ceil(max(reach[id(t)][0] for t in model.outputs if id(t) in reach)))


def default_halo(model, tile):
    """Twice the receptive radius, rounded up to the size multiple (at most the tile's side): with
    the blend band half the halo, every pixel a tile contributes lies at least the receptive radius
    inside its window, where the tile computes exactly what the whole image does."""
    multiple = size_multiple(model)
    return max(multiple, min(-(-2 * receptive_radius(model) // multiple) * multiple, tile // multiple * multiple))


def instance_norm_layers(model):
    """The model's instance-norm layers in the order they run; ``ValueError`` if some sit inside a
    nested model, where a tile's statistics could not be replaced."""
    found = [layer for layer in model.layers if isinstance(layer, layers.InstanceNormalization)]
    for layer in model.layers:
        if isinstance(layer, keras.Model) and instance_norm_layers(layer):
            raise ValueError(f"{model.name}: instance norms inside the nested model {layer.name}; tiled translation "
                             "needs them at the top level")
    return found


def _starts(size, core):
    return list(range(0, size, core))


def _ramp(length, start, stop, lo, blend):
    """1-D weights over ``[lo, lo + length)``: 1 on the core ``[start, stop)``, falling linearly to 0
    across ``blend`` pixels on each side."""
    position = np.arange(lo, lo + length)
    distance = np.maximum(start - position, position - (stop - 1))
    return np.clip(1.0 - distance / (blend + 1.0), 0.0, 1.0) if blend else (distance <= 0).astype(np.float64)


class _Tiling:
    def __init__(self, height, width, core, halo):
        self.height, self.width, self.core, self.halo = height, width, core, halo
        self.tiles = [(y, x) for y in _starts(height, core) for x in _starts(width, core)]

    def region(self, y, x):
        """The tile's input window ``(top, bottom, left, right)``: its core plus the halo, in the image."""
        return (max(0, y - self.halo), min(self.height, y + self.core + self.halo),
                max(0, x - self.halo), min(self.width, x + self.core + self.halo))

    def core_in(self, y, x, region, scale):
        """The core's window inside a tile's activation of ``scale`` times the input's size."""
        top, _, left, _ = region
        bottom, right = min(self.height, y + self.core), min(self.width, x + self.core)
        return (round((y - top) * scale), round((bottom - top) * scale),
                round((x - left) * scale), round((right - left) * scale))


def whole_image_statistics(model, image, tiling, log=None):
    """``{instance-norm layer name: (mean, variance)}`` of ``model`` over the whole of ``image``
    (``(H, W, C)``, sides multiples of the model's size multiple), tile by tile."""
    statistics = {}
    norms = instance_norm_layers(model)
    for index, norm in enumerate(norms):
        upto = keras.Model(model.input, norm.input)
        total = count = squares = 0.0
        with layers.fixed_instance_statistics(statistics):
            for y, x in tiling.tiles:
                region = tiling.region(y, x)
                top, bottom, left, right = region
                tile = tf.constant(image[None, top:bottom, left:right])
                activation = upto(tile, training=False).numpy()[0].astype(np.float64)
                a, b, c, d = tiling.core_in(y, x, region, activation.shape[0] / (bottom - top))
                core = activation[a:b, c:d]
                total = total + core.sum(axis=(0, 1))
                squares = squares + np.square(core).sum(axis=(0, 1))
                count += core.shape[0] * core.shape[1]
        mean = total / count
        statistics[norm.name] = (mean.astype(np.float32), np.maximum(squares / count - mean**2, 0).astype(np.float32))
        if log:
            log(f"statistics {index + 1}/{len(norms)}: {norm.name}")
    return statistics


def translate_tiled(model, image, tile=512, halo=None, blend=None, log=None):
    """Translate one float ``(H, W, C)`` image in [-1, 1] tile by tile (see the module docstring);
    equal to :func:`inference.translate_array` up to the context a halo leaves out. ``tile`` is
    rounded down and ``halo`` (default :func:`default_halo`) up to the size multiple; ``blend``
    defaults to half the halo."""
    multiple = size_multiple(model)
    core = max(multiple, tile // multiple * multiple)
    halo = default_halo(model, tile) if halo is None else halo
    halo = max(multiple, -(-halo // multiple) * multiple)  # up to the multiple: every window >= 2 multiples
    blend = halo // 2 if blend is None else min(blend, halo)
    height, width = image.shape[:2]
    padded_reflect = any(isinstance(layer, layers.ReflectionPadding2D) for layer in model.layers)
    if max(height, width) <= core or min(height, width) < (2 * multiple if padded_reflect else multiple):
        return translate_array(model, image)  # one tile, or too small to need (or take) tiles
    fitted, undo = _fit(tf.constant(image[None], tf.float32), multiple)  # translate's padding (or resizing)
    padded = fitted.numpy()[0]
    tiling = _Tiling(padded.shape[0], padded.shape[1], core, halo)
    statistics = whole_image_statistics(model, padded, tiling, log)
    channels = model.output_shape[-1]
    output = np.zeros((*padded.shape[:2], channels), np.float32)
    weights = np.zeros(padded.shape[:2], np.float32)
    with layers.fixed_instance_statistics(statistics):
        for y, x in tiling.tiles:
            region = tiling.region(y, x)
            r0, r1, c0, c1 = region
            result = model(tf.constant(padded[None, r0:r1, c0:c1]), training=False).numpy()[0]
            weight = np.outer(_ramp(r1 - r0, y, y + core, r0, blend), _ramp(c1 - c0, x, x + core, c0, blend))
            output[r0:r1, c0:c1] += result * weight[..., None].astype(np.float32)
            weights[r0:r1, c0:c1] += weight.astype(np.float32)
    output /= weights[..., None]
    return undo(tf.constant(output[None])).numpy()[0]
