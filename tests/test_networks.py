import numpy as np
import keras
import pytest
import tensorflow as tf

from tfgan_translate import networks
from tfgan_translate.networks.blocks import conv, conv_transpose


CONVS = (keras.layers.Conv2D, keras.layers.Conv2DTranspose)


def trainable_count(model):
    """What the reference prints as 'Total number of parameters' (BN moving stats excluded)."""
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


# Values from ../shared/reference/published-models.md.
PUBLISHED = [
    ("resnet_9blocks", lambda: networks.build_resnet_generator((256, 256, 3)), 11_378_179),
    ("cyclegan_patchgan", lambda: networks.build_patchgan_discriminator((256, 256, 3), norm="instance"), 2_764_737),
    ("unet_256", lambda: networks.build_unet_generator((256, 256, 3)), 54_413_955),
    ("unet_128", lambda: networks.build_unet_generator((128, 128, 3), num_downs=7), 41_828_995),
    ("pix2pix_patchgan", lambda: networks.build_patchgan_discriminator((256, 256, 6)), 2_768_705),
    ("patchgan_batch_3ch", lambda: networks.build_patchgan_discriminator((256, 256, 3)), 2_765_633),
]


@pytest.mark.parametrize("name,build,expected", PUBLISHED, ids=[p[0] for p in PUBLISHED])
def test_parameter_counts_equal_the_published_models(name, build, expected):
    assert trainable_count(build()) == expected


def test_patchgan_70x70_gives_30x30_map_for_256_input():
    d = networks.build_patchgan_discriminator((256, 256, 6), ndf=8)
    out = d(np.zeros((1, 256, 256, 6), np.float32))
    assert tuple(out.shape) == (1, 30, 30, 1)
    assert networks.patchgan_output_size(256) == 30


@pytest.mark.parametrize("n_layers,field", [(1, 16), (2, 34), (3, 70), (4, 142)])
def test_receptive_field_formula(n_layers, field):
    assert networks.patchgan_receptive_field(n_layers) == field


def test_receptive_field_is_what_the_network_sees():
    """The gradient of one output logit is non-zero exactly on a 70x70 input window."""
    d = networks.build_patchgan_discriminator((160, 160, 1), ndf=4, norm="none")
    for layer in d.layers:  # positive weights and biases: no accidental zero gradients
        if isinstance(layer, keras.layers.Conv2D):
            layer.kernel.assign(tf.abs(layer.kernel) + 0.01)
    x = tf.random.normal((1, 160, 160, 1))
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = d(x)
        center = out.shape[1] // 2
        target = out[0, center, center, 0]
    grad = np.abs(tape.gradient(target, x).numpy()[0, :, :, 0])
    rows = np.nonzero(grad.sum(axis=1))[0]
    cols = np.nonzero(grad.sum(axis=0))[0]
    assert rows.max() - rows.min() + 1 == networks.patchgan_receptive_field(3) == 70
    assert cols.max() - cols.min() + 1 == 70


def test_pixel_discriminator_keeps_resolution():
    d = networks.build_pixel_discriminator((32, 48, 6), ndf=8)
    assert d.output_shape == (None, 32, 48, 1)
    assert all(layer.kernel.shape[:2] == (1, 1) for layer in d.layers if isinstance(layer, keras.layers.Conv2D))


@pytest.mark.parametrize("shape", [(64, 64, 3), (128, 192, 3), (32, 48, 1)])
@pytest.mark.parametrize("upsampling", ["transpose", "resize_conv"])
def test_resnet_generator_keeps_size_including_non_square(shape, upsampling):
    g = networks.build_resnet_generator(shape, output_channels=shape[-1], ngf=4, n_blocks=2, upsampling=upsampling)
    y = g(np.random.default_rng(0).uniform(-1, 1, (2, *shape)).astype(np.float32))
    assert tuple(y.shape) == (2, *shape)
    assert y.dtype == tf.float32
    assert np.abs(y.numpy()).max() <= 1.0  # tanh range


def test_resize_conv_has_the_same_parameters_as_transpose():
    a = networks.build_resnet_generator((32, 32, 3), ngf=8, n_blocks=1)
    b = networks.build_resnet_generator((32, 32, 3), ngf=8, n_blocks=1, upsampling="resize_conv")
    assert trainable_count(a) == trainable_count(b)


def test_resnet_generator_accepts_free_sizes():
    g = networks.build_resnet_generator((None, None, 3), ngf=4, n_blocks=1)
    assert tuple(g(np.zeros((1, 36, 20, 3), np.float32)).shape) == (1, 36, 20, 3)


@pytest.mark.parametrize("shape,num_downs", [((32, 32, 3), 5), ((64, 128, 3), 6), ((64, 32, 1), 5)])
def test_unet_generator_keeps_size(shape, num_downs):
    g = networks.build_unet_generator(shape, output_channels=2, num_downs=num_downs, ngf=4)
    y = g(np.zeros((1, *shape), np.float32), training=False)
    assert tuple(y.shape) == (1, *shape[:2], 2)


def test_unet_refuses_a_size_it_cannot_take_and_says_which_work():
    with pytest.raises(ValueError, match=r"multiples of 2\*\*8 = 256 \(e\.g\. 256, 512"):
        networks.build_unet_generator((100, 256, 3))
    with pytest.raises(ValueError, match="width 48"):
        networks.build_unet_generator((64, 48, 3), num_downs=6, ngf=4)


def test_resnet_refuses_sizes_that_would_change_the_output_size():
    with pytest.raises(ValueError, match="height 30 .* multiples of 4"):
        networks.build_resnet_generator((30, 32, 3), ngf=4, n_blocks=1)


def test_patchgan_refuses_too_small_input():
    with pytest.raises(ValueError, match="too small for n_layers=3"):
        networks.build_patchgan_discriminator((16, 16, 3))


@pytest.mark.parametrize("bad", [dict(norm="group"), dict(upsampling="pixelshuffle")])
def test_bad_options_are_named(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        networks.build_resnet_generator((32, 32, 3), ngf=4, n_blocks=1, **bad)


def test_unet_layout_dropout_and_bias_follow_the_reference():
    g = networks.build_unet_generator((256, 256, 3), ngf=4)
    dropouts = [layer.name for layer in g.layers if isinstance(layer, keras.layers.Dropout)]
    assert sorted(dropouts) == ["up4_dropout", "up5_dropout", "up6_dropout"]  # num_downs - 5 = 3 blocks
    convs = {layer.name: layer for layer in g.layers if isinstance(layer, CONVS)}
    assert len(convs) == 16
    assert convs["up0_conv"].use_bias  # outermost up-conv keeps its bias (no norm after it)
    assert not any(c.use_bias for name, c in convs.items() if name != "up0_conv")
    assert "down0_norm" not in {layer.name for layer in g.layers}  # no norm on the first conv
    assert "down7_norm" not in {layer.name for layer in g.layers}  # nor on the innermost
    # skip connections: encoder features first, then decoder
    skip = g.get_layer("skip7")
    assert [t.shape[-1] for t in skip.input] == [32, 32]
    g_instance = networks.build_unet_generator((128, 128, 3), num_downs=7, ngf=4, norm="instance", use_dropout=False)
    assert all(c.use_bias for c in g_instance.layers if isinstance(c, CONVS))
    assert not any(isinstance(layer, keras.layers.Dropout) for layer in g_instance.layers)


def test_resnet_layer_order_follows_the_reference():
    g = networks.build_resnet_generator((32, 32, 3), ngf=4, n_blocks=1)
    kinds = [type(layer).__name__ for layer in g.layers[1:]]
    stem = ["ReflectionPadding2D", "Conv2D", "InstanceNormalization", "ReLU"]
    down = ["ZeroPadding2D", "Conv2D", "InstanceNormalization", "ReLU"]
    block = ["ReflectionPadding2D", "Conv2D", "InstanceNormalization", "ReLU",
             "ReflectionPadding2D", "Conv2D", "InstanceNormalization", "Add"]
    up = ["ConvTranspose2D", "InstanceNormalization", "ReLU"]
    head = ["ReflectionPadding2D", "Conv2D", "Activation"]
    assert kinds == stem + down * 2 + block + up * 2 + head


def test_weights_are_initialised_like_the_reference():
    g = networks.build_unet_generator((256, 256, 3), ngf=16)
    kernels = np.concatenate([layer.kernel.numpy().ravel() for layer in g.layers if isinstance(layer, keras.layers.Conv2D)])
    assert abs(kernels.mean()) < 1e-3 and kernels.std() == pytest.approx(0.02, rel=0.05)
    gammas = np.concatenate([layer.gamma.numpy() for layer in g.layers if isinstance(layer, keras.layers.BatchNormalization)])
    assert gammas.mean() == pytest.approx(1.0, abs=0.01) and gammas.std() == pytest.approx(0.02, rel=0.2)
    d = networks.build_patchgan_discriminator((64, 64, 3), ndf=8, norm="instance")
    assert all(np.all(layer.bias.numpy() == 0) for layer in d.layers if isinstance(layer, keras.layers.Conv2D))


def _torch_style_conv(x, kernel, stride, pad):
    """Direct cross-correlation with symmetric zero padding, as nn.Conv2d computes it."""
    x = np.pad(x, ((pad, pad), (pad, pad)))
    k = kernel.shape[0]
    out = (x.shape[0] - k) // stride + 1
    return np.array([[np.sum(x[i * stride:i * stride + k, j * stride:j * stride + k] * kernel)
                      for j in range(out)] for i in range(out)])


def _torch_style_conv_transpose(x, kernel, stride, pad, output_padding):
    """Scatter each input pixel times the kernel, then crop like nn.ConvTranspose2d."""
    k = kernel.shape[0]
    full = np.zeros(((x.shape[0] - 1) * stride + k,) * 2)
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            full[i * stride:i * stride + k, j * stride:j * stride + k] += x[i, j] * kernel
    end = full.shape[0] - (pad - output_padding)
    return full[pad:end, pad:end]


@pytest.mark.parametrize("kernel_size,pad", [(3, 1), (4, 1)])
def test_strided_conv_pads_symmetrically_like_the_reference(kernel_size, pad):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(8, 8)).astype(np.float32)
    inputs = keras.Input((8, 8, 1))
    model = keras.Model(inputs, conv(inputs, 1, kernel_size, strides=2, padding=pad, use_bias=False, name="c"))
    kernel = model.get_layer("c").kernel.numpy()[:, :, 0, 0]
    got = model(x[None, :, :, None]).numpy()[0, :, :, 0]
    np.testing.assert_allclose(got, _torch_style_conv(x, kernel, 2, pad), atol=1e-5)


@pytest.mark.parametrize("kernel_size,pad,output_padding", [(3, 1, 1), (4, 1, 0)])
def test_transposed_conv_crops_like_the_reference(kernel_size, pad, output_padding):
    rng = np.random.default_rng(5)
    x = rng.normal(size=(5, 5)).astype(np.float32)
    inputs = keras.Input((5, 5, 1))
    layer_out = conv_transpose(inputs, 1, kernel_size, strides=2, padding=pad,
                               output_padding=output_padding, use_bias=False, name="t")
    model = keras.Model(inputs, layer_out)
    kernel = model.get_layer("t").kernel.numpy()[:, :, 0, 0]
    got = model(x[None, :, :, None]).numpy()[0, :, :, 0]
    assert got.shape == (10, 10)
    np.testing.assert_allclose(got, _torch_style_conv_transpose(x, kernel, 2, pad, output_padding), atol=1e-5)


def test_generator_round_trips_through_keras_save(tmp_path):
    g = networks.build_resnet_generator((32, 32, 3), ngf=4, n_blocks=1)
    x = np.random.default_rng(6).uniform(-1, 1, (1, 32, 32, 3)).astype(np.float32)
    g.save(tmp_path / "g.keras")
    loaded = keras.models.load_model(tmp_path / "g.keras")
    np.testing.assert_array_equal(g(x).numpy(), loaded(x).numpy())


def test_patchgan_can_return_intermediate_features():
    d = networks.build_patchgan_discriminator((64, 64, 3), ndf=4, n_layers=3, norm="instance", return_features=True)
    outputs = d(np.zeros((1, 64, 64, 3), np.float32))
    assert len(outputs) == 5  # 4 feature maps + logits
    assert [o.shape[-1] for o in outputs] == [4, 8, 16, 32, 1]
