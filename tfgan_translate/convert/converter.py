"""Turn a reference pix2pix/CycleGAN ``state_dict`` into one of our Keras models.

Weight layouts: PyTorch ``Conv2d`` stores ``(out, in, kh, kw)`` and ``ConvTranspose2d``
``(in, out, kh, kw)``; Keras ``Conv2D`` wants ``(kh, kw, in, out)`` and ``Conv2DTranspose``
``(kh, kw, out, in)``, so both take the same transpose ``(2, 3, 1, 0)``. No spatial flip is
needed: both frameworks define the transposed convolution as the gradient of the same
cross-correlation (the parity tests check it).
"""

import keras
import numpy as np

from ..layers import InstanceNormalization
from .architectures import ARCHITECTURES, CONVERTIBLE_NORMS, Settings, get_architecture
from .checkpoint import load_state_dict
from .errors import ConversionError

KERNEL_TO_KERAS = (2, 3, 1, 0)
KERNEL_TO_TORCH = (3, 2, 0, 1)
# Entries that hold no weights of ours: batch-norm counters, and the running statistics
# that InstanceNorm2d once tracked (and never used) in older checkpoints.
BATCH_NORM_IGNORED = ("num_batches_tracked",)
INSTANCE_NORM_IGNORED = ("running_mean", "running_var", "num_batches_tracked")
HINT = "Wrong arch, norm or input channels (--arch, --norm, --input-nc)?"


def _layer_targets(layer, prefix):
    """``({torch key: (keras variable, is_kernel)}, ignored torch keys)`` for one layer."""
    if isinstance(layer, (keras.layers.Conv2D, keras.layers.Conv2DTranspose)):
        targets = {f"{prefix}.weight": (layer.kernel, True)}
        if layer.use_bias:
            targets[f"{prefix}.bias"] = (layer.bias, False)
        return targets, set()
    if isinstance(layer, keras.layers.BatchNormalization):
        names = {"weight": layer.gamma, "bias": layer.beta, "running_mean": layer.moving_mean,
                 "running_var": layer.moving_variance}
        targets = {f"{prefix}.{name}": (variable, False) for name, variable in names.items()}
        return targets, {f"{prefix}.{name}" for name in BATCH_NORM_IGNORED}
    if isinstance(layer, InstanceNormalization):
        targets = {}
        if layer.affine:
            targets = {f"{prefix}.weight": (layer.gamma, False), f"{prefix}.bias": (layer.beta, False)}
        return targets, {f"{prefix}.{name}" for name in INSTANCE_NORM_IGNORED}
    raise ConversionError(f"internal: no rule to convert layer {layer.name!r} ({type(layer).__name__})")


def _targets(model, layer_map):
    """All checkpoint keys the model takes, and those it may ignore; checks full coverage."""
    targets, ignored = {}, set()
    for layer_name, prefix in layer_map:
        try:
            layer = model.get_layer(layer_name)
        except ValueError:
            raise ConversionError(f"internal: model {model.name!r} has no layer {layer_name!r}") from None
        layer_targets, layer_ignored = _layer_targets(layer, prefix)
        targets.update(layer_targets)
        ignored |= layer_ignored
    covered = {id(variable) for variable, _ in targets.values()}
    for variable in model.weights:
        if id(variable) not in covered:
            raise ConversionError(f"internal: no checkpoint key fills the Keras weight {variable.path!r}")
    if len(covered) != len(targets):
        raise ConversionError("internal: two checkpoint keys fill the same Keras weight")
    return targets, ignored


def _torch_shape(variable, is_kernel):
    shape = tuple(variable.shape)
    return tuple(shape[i] for i in KERNEL_TO_TORCH) if is_kernel else shape


def _check_keys(state, targets, ignored, where, hint=HINT):
    """Raise on the first checkpoint key that does not fit, then on the first missing one."""
    unexpected = [key for key in state if key not in targets and key not in ignored]
    missing = [key for key in targets if key not in state]
    for key, value in state.items():
        if key in targets:
            variable, is_kernel = targets[key]
            expected = _torch_shape(variable, is_kernel)
            if tuple(value.shape) != expected:
                raise ConversionError(
                    f"{where}: checkpoint key {key!r} has shape {tuple(value.shape)} but the model "
                    f"expects {expected} (Keras layer {variable.path.split('/')[0]!r}). {hint}"
                )
        elif key not in ignored:
            more = f"; {len(unexpected) - 1} more unexpected keys" if len(unexpected) > 1 else ""
            gone = f"; {len(missing)} keys missing, the first {missing[0]!r}" if missing else ""
            raise ConversionError(
                f"{where}: checkpoint key {key!r} with shape {tuple(value.shape)} has no place in "
                f"the model{more}{gone}. {hint}"
            )
    if missing:
        raise ConversionError(
            f"{where}: the checkpoint has no key {missing[0]!r}"
            + (f" (and {len(missing) - 1} more are missing)" if len(missing) > 1 else "")
            + f"; it is truncated or from another network. {hint}"
        )


def assign_state_dict(model, layer_map, state, where="state_dict", ignored=(), hint=HINT):
    """Copy ``state`` into ``model``'s weights: each weight exactly once, every key used.

    Args:
        model: a Keras model from our builders.
        layer_map: ``[(keras layer name, torch module path), ...]``.
        state: ``{torch key: numpy array}`` (see ``load_state_dict``).
        where: names the source in error messages.
        ignored: further keys the model does not take (e.g. a classifier's).
        hint: what the user may have got wrong, appended to each error.

    Raises:
        ConversionError: naming the first key whose shape does not fit or that has no place,
            or the first key the model needs and the checkpoint lacks.
    """
    targets, layer_ignored = _targets(model, layer_map)
    _check_keys(state, targets, layer_ignored | set(ignored), where, hint)
    for key, (variable, is_kernel) in targets.items():
        value = np.asarray(state[key], dtype=np.float32)
        variable.assign(np.transpose(value, KERNEL_TO_KERAS) if is_kernel else value)


def _infer_norm(state):
    """Batch norm leaves ``weight`` and ``running_var`` side by side; instance norm does not."""
    for key, value in state.items():
        if key.endswith(".running_var"):
            weight = state.get(key[: -len("running_var")] + "weight")
            if weight is not None and weight.ndim == 1:
                return "batch"
    return "instance"


def _dim(state, key, axis, default):
    value = state.get(key)
    return default if value is None or value.ndim != 4 else int(value.shape[axis])


def infer_settings(arch, state, norm=None, input_nc=None, output_nc=None, ngf=None):
    """Fill each unspecified setting from the checkpoint itself.

    Norm: batch if any batch-norm entry is present, else instance. Channels and width: from
    the first (and for generators the last) convolution's weight. What cannot be read
    (a key absent) falls back to the reference defaults; the key check then reports it.
    """
    if norm is None:
        norm = _infer_norm(state)
    if norm not in CONVERTIBLE_NORMS:
        raise ConversionError(
            f"norm must be one of {', '.join(CONVERTIBLE_NORMS)}, got {norm!r} (the reference's norm "
            "'none' drops the conv biases, which our builders keep: it cannot be converted)"
        )
    first = arch.first_key
    if input_nc is None:
        input_nc = _dim(state, first, 1, 3)
    if ngf is None:
        ngf = _dim(state, first, 0, 64)
    if output_nc is None:
        output_nc = 3 if arch.output_key is None else _dim(state, *arch.output_key, 3)
    return Settings(norm=norm, input_nc=input_nc, output_nc=output_nc, ngf=ngf,
                    use_dropout=arch.infer_dropout(state))


def _input_shape(input_shape, input_nc):
    if input_shape is None:
        return (None, None, input_nc)
    if len(input_shape) != 3 or input_shape[2] != input_nc:
        raise ConversionError(
            f"input_shape must be (height, width, {input_nc}) for this checkpoint, got {tuple(input_shape)!r}"
        )
    return tuple(input_shape)


def convert_state_dict(state, arch, norm=None, input_nc=None, output_nc=None, ngf=None, input_shape=None,
                       where="state_dict"):
    """Build our model of ``arch`` and fill it from ``state`` (``{key: numpy array}``).

    See ``convert_pytorch_checkpoint`` for the arguments.
    """
    architecture = get_architecture(arch)
    if input_shape is not None and input_nc is None:
        input_nc = input_shape[-1]
    settings = infer_settings(architecture, state, norm, input_nc, output_nc, ngf)
    model = architecture.build(settings, _input_shape(input_shape, settings.input_nc))
    described = f"{where} as {arch} ({settings.describe(architecture.role)})"
    buffers = architecture.fixed_buffers(settings)
    _check_fixed_buffers(state, buffers, described, arch)
    assign_state_dict(model, architecture.layer_map(settings), state, where=described, ignored=buffers)
    return model


def _check_fixed_buffers(state, buffers, where, arch):
    """CUT's blur filters are constants of the architecture: present and equal, or the file is
    not what ``arch`` says; a CUT checkpoint named as CycleGAN's (or back) is told so."""
    blur_keys = [key for key in state if key.endswith(".filt")]
    if blur_keys and not buffers:
        instead = (f"convert it with --arch cut_{arch}" if f"cut_{arch}" in ARCHITECTURES else
                   f"the anti-aliased CUT architectures are {', '.join(a for a in ARCHITECTURES if a.startswith('cut_'))}")
        raise ConversionError(f"{where}: the checkpoint has CUT's anti-aliasing filters ({blur_keys[0]!r}): it is a "
                              f"CUT network; {instead} (networks with only some layers anti-aliased, "
                              "--no_antialias or --no_antialias_up alone, are not supported)")
    for key, expected in buffers.items():
        if key not in state:
            hint = f" (a CycleGAN checkpoint? use --arch {arch[4:]})" if not blur_keys else ""
            raise ConversionError(f"{where}: the checkpoint has no blur filter {key!r}{hint}. {HINT}")
        if state[key].shape != expected.shape or not np.allclose(state[key], expected, atol=1e-6):
            raise ConversionError(f"{where}: the blur filter {key!r} is not CUT's fixed binomial filter "
                                  f"(shape {tuple(state[key].shape)}, expected {expected.shape}). {HINT}")


def convert_pytorch_checkpoint(path, arch, norm=None, input_nc=None, output_nc=None, ngf=None,
                               input_shape=None, use_torch=None):
    """A Keras model computing what the reference PyTorch network of ``path`` computes.

    Reads a ``state_dict`` saved by pytorch-CycleGAN-and-pix2pix (``latest_net_G.pth``,
    the published ``horse2zebra.pth``, ``facades_label2photo.pth``, ...) and returns the
    matching model from ``tfgan_translate.networks`` with its weights. In eval mode
    (``training=False``, the Keras default) it gives the reference's eval-mode outputs.

    Args:
        path: the ``.pth`` file.
        arch: ``resnet_9blocks``, ``resnet_6blocks``, ``unet_256``, ``unet_128`` (generators),
            ``basic``/``patchgan``, ``n_layers_N`` or ``pixel`` (discriminators); CUT's
            anti-aliased ``cut_resnet_9blocks``, ``cut_resnet_6blocks`` and ``cut_basic``.
        norm: ``"batch"`` or ``"instance"``; by default read from the checkpoint (published
            CycleGAN models: instance; pix2pix: batch).
        input_nc, output_nc, ngf: channels in and out and the first layer's width (``ndf``
            for discriminators); by default read from the checkpoint's weight shapes.
        input_shape: by default ``(None, None, input_nc)``: any size the architecture takes
            (ResNet: multiples of 4; unet_256: of 256; unet_128: of 128).
        use_torch: see ``load_state_dict``.

    Raises:
        ConversionError: the file cannot be read, or a key or shape does not fit ``arch``.

    Example:
        >>> g = convert_pytorch_checkpoint("horse2zebra.pth", "resnet_9blocks")  # doctest: +SKIP
        >>> zebra = g(horse_batch_in_minus1_1)  # doctest: +SKIP
    """
    state = load_state_dict(path, use_torch=use_torch)
    return convert_state_dict(state, arch, norm=norm, input_nc=input_nc, output_nc=output_nc, ngf=ngf,
                              input_shape=input_shape, where=str(path))
