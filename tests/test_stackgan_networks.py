"""StackGAN networks: parameter counts and outputs equal to a PyTorch transcription of the
reference (``torch_stackgan_nets.py``), conditioning augmentation, the KL term, the frozen
Stage-I inside Stage-II, save/load, and refused sizes.

Outputs are compared in inference mode after copying the torch weights (with random
batch-norm scale, offset and running statistics) into the Keras models.
"""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfgan_translate import losses
from tfgan_translate.networks import (
    ConditioningAugmentation,
    build_conditional_logits,
    build_stage1_discriminator,
    build_stage1_generator,
    build_stage2_discriminator,
    build_stage2_generator,
    build_unconditional_logits,
    conditioning_layer,
    stage1_image,
)

torch = pytest.importorskip("torch")
nn = torch.nn
import torch_stackgan_nets as ref  # noqa: E402

TOLERANCE = 1e-4
E, NZ, NC = 32, 10, 8  # embedding_dim, noise_dim, condition_dim of the small networks

# Parameters (batch-norm running statistics excluded) at the reference's defaults, from
# ``sum(p.numel() for p in net.parameters())`` of the reference code itself.
STAGE1_G_PARAMS = 10_301_248  # STAGE1_G: 64 px, gf_dim 128, z 100, c 128, t 1024
STAGE1_D_PARAMS = 5_715_713  # STAGE1_D: encode_img 2,757,376 + get_cond_logits 2,958,337
STAGE2_G_PARAMS = 36_591_328  # STAGE2_G with its STAGE1_G; 26,290,080 of them trainable
STAGE2_G_TRAINABLE = 26_290_080
STAGE2_D_PARAMS = 71_269_122  # STAGE2_D: 68,302,592 + cond head 2,958,337 + uncond head 8,193


def count(models, trainable_only=False):
    """Sum of weight sizes, batch-norm moving statistics excluded (PyTorch keeps them as buffers)."""
    total = 0
    for model in models:
        weights = model.trainable_weights if trainable_only else model.weights
        total += sum(math.prod(w.shape) for w in weights if "moving_" not in w.path)
    return total


def keras_weights(module):
    """A torch module's weights in Keras layout: Linear (out, in) -> (in, out), Conv2d OIHW -> HWIO."""
    t = lambda x: x.detach().numpy()  # noqa: E731
    if isinstance(module, nn.Linear):
        return [t(module.weight).T] + ([t(module.bias)] if module.bias is not None else [])
    if isinstance(module, nn.Conv2d):
        return [t(module.weight).transpose(2, 3, 1, 0)] + ([t(module.bias)] if module.bias is not None else [])
    if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        return [t(module.weight), t(module.bias), t(module.running_mean), t(module.running_var)]
    raise TypeError(type(module))


def copy_weights(model, net, pairs):
    """Copy ``[(keras layer name, torch module path)]``; every weighted layer must be covered."""
    for layer_name, path in pairs:
        layer = model.get_layer(layer_name)
        layer = layer.fc if isinstance(layer, ConditioningAugmentation) else layer
        layer.set_weights(keras_weights(net.get_submodule(path)))
    weighted = {layer.name for layer in model.layers if layer.weights and not isinstance(layer, keras.Model)}
    assert weighted == {name for name, _ in pairs}


def stage1_g_pairs(n_up):
    pairs = [("conditioning_augmentation", "ca_net.fc"), ("fc", "fc.0"), ("fc_bn", "fc.1"), ("image_conv", "img.0")]
    for i in range(1, n_up + 1):
        pairs += [(f"up{i}_conv", f"upsample{i}.1"), (f"up{i}_bn", f"upsample{i}.2")]
    return pairs


def stage2_g_pairs(r_num):
    pairs = [("conditioning_augmentation", "ca_net.fc"), ("encode1", "encoder.0"), ("encode2", "encoder.2"),
             ("encode2_bn", "encoder.3"), ("encode3", "encoder.5"), ("encode3_bn", "encoder.6"),
             ("joint_conv", "hr_joint.0"), ("joint_bn", "hr_joint.1"), ("image_conv", "img.0")]
    for i in range(r_num):
        pairs += [(f"res{i + 1}_{k}", f"residual.{i}.block.{j}") for k, j in
                  (("conv1", 0), ("bn1", 1), ("conv2", 3), ("bn2", 4))]
    for i in range(1, 5):
        pairs += [(f"up{i}_conv", f"upsample{i}.1"), (f"up{i}_bn", f"upsample{i}.2")]
    return pairs


def trunk_pairs(model, net):
    """The trunk is a chain, so Keras' weighted layers and torch's come in the same order."""
    names = [layer.name for layer in model.layers if layer.weights]
    paths = [f"encode_img.{i}" for i, m in enumerate(net.encode_img) if list(m.parameters())]
    assert len(names) == len(paths)
    return list(zip(names, paths))


HEAD_PAIRS = [("joint_conv", "get_cond_logits.outlogits.0"), ("joint_bn", "get_cond_logits.outlogits.1"),
              ("logits_conv", "get_cond_logits.outlogits.3")]


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def to_nhwc(x):
    return x.detach().numpy().transpose(0, 2, 3, 1)


def numpy(x):
    return keras.ops.convert_to_numpy(x)


def small_stage1(image_size=16, gf_dim=4, name="generator"):
    return build_stage1_generator(E, NZ, NC, gf_dim=gf_dim, image_size=image_size, name=name)


# -- parameter counts ---------------------------------------------------------------------

def test_parameter_counts_at_reference_defaults():
    g0 = build_stage1_generator()
    assert count([g0]) == ref.count(ref.Stage1G()) == STAGE1_G_PARAMS
    d0 = [build_stage1_discriminator(), build_conditional_logits()]
    assert count(d0) == ref.count(ref.Stage1D()) == STAGE1_D_PARAMS
    g1 = build_stage2_generator(build_stage1_generator())
    torch_g1 = ref.Stage2G(ref.Stage1G())
    assert count([g1]) == ref.count(torch_g1) == STAGE2_G_PARAMS
    assert count([g1], trainable_only=True) == ref.count(torch_g1, trainable_only=True) == STAGE2_G_TRAINABLE
    d1 = [build_stage2_discriminator(), build_conditional_logits(), build_unconditional_logits()]
    assert count(d1) == ref.count(ref.Stage2D()) == STAGE2_D_PARAMS
    assert g1.output.shape[1:] == (256, 256, 3) and d1[0].output.shape[1:] == (4, 4, 512)


@pytest.mark.parametrize("image_size", [16, 64])
def test_parameter_counts_small(image_size):
    assert count([small_stage1(image_size)]) == ref.count(ref.Stage1G(E, NZ, NC, 4, image_size))
    d0 = [build_stage1_discriminator(image_size, 4), build_conditional_logits(4, NC)]
    assert count(d0) == ref.count(ref.Stage1D(4, NC, image_size))
    d1 = [build_stage2_discriminator(image_size, 4), build_conditional_logits(4, NC), build_unconditional_logits(4)]
    assert count(d1) == ref.count(ref.Stage2D(4, NC, image_size))


# -- equal outputs with the reference's weights ----------------------------------------------

def test_stage1_generator_matches_reference():
    net = ref.randomize(ref.Stage1G(E, NZ, NC, gf_dim=4, image_size=64))
    model = small_stage1(64)
    copy_weights(model, net, stage1_g_pairs(4))
    embedding, z, eps = rand(3, E, seed=1), rand(3, NZ, seed=2), rand(3, NC, seed=3)
    with torch.no_grad():
        image, mu, logvar = net(*map(torch.from_numpy, (embedding, z, eps)))
    actual = numpy(model([embedding, np.concatenate([z, eps], 1)], training=False))
    assert actual.shape == (3, 64, 64, 3)
    np.testing.assert_allclose(actual, to_nhwc(image), rtol=0, atol=TOLERANCE)
    k_mu, k_logvar = conditioning_layer(model).encode(embedding)
    np.testing.assert_allclose(numpy(k_mu), mu.numpy(), rtol=0, atol=1e-5)
    np.testing.assert_allclose(numpy(k_logvar), logvar.numpy(), rtol=0, atol=1e-5)


@pytest.mark.parametrize("stage", [1, 2])
def test_discriminator_and_heads_match_reference(stage):
    image_size = 64
    if stage == 1:
        net, trunk = ref.Stage1D(4, NC, image_size), build_stage1_discriminator(image_size, 4)
    else:
        net, trunk = ref.Stage2D(4, NC, image_size), build_stage2_discriminator(image_size, 4)
    net = ref.randomize(net)
    copy_weights(trunk, net, trunk_pairs(trunk, net))
    head = build_conditional_logits(4, NC)
    copy_weights(head, net, HEAD_PAIRS)
    images, condition = np.tanh(rand(2, image_size, image_size, 3, seed=4)), rand(2, NC, seed=5)
    with torch.no_grad():
        features = net(torch.from_numpy(images.transpose(0, 3, 1, 2)))
        logits = net.get_cond_logits(features, torch.from_numpy(condition))
    k_features = trunk(images, training=False)
    np.testing.assert_allclose(numpy(k_features), to_nhwc(features), rtol=0, atol=TOLERANCE)
    k_logits = numpy(head([k_features, tf.constant(condition)], training=False))
    assert k_logits.shape == (2,)
    np.testing.assert_allclose(k_logits, logits.numpy(), rtol=0, atol=TOLERANCE)
    if stage == 2:
        uncond = build_unconditional_logits(4)
        copy_weights(uncond, net, [("logits_conv", "get_uncond_logits.outlogits.0")])
        with torch.no_grad():
            expected = net.get_uncond_logits(features).numpy()
        np.testing.assert_allclose(numpy(uncond(k_features)), expected, rtol=0, atol=TOLERANCE)


def test_stage2_generator_matches_reference():
    net = ref.randomize(ref.Stage2G(ref.Stage1G(E, NZ, NC, gf_dim=4, image_size=16), E, NC, gf_dim=8, r_num=2))
    model = build_stage2_generator(small_stage1(16), E, NZ, NC, gf_dim=8, r_num=2)
    copy_weights(model.get_layer("stage1_generator"), net.STAGE1_G, stage1_g_pairs(2))
    copy_weights(model, net, stage2_g_pairs(2))
    embedding, z, eps1, eps2 = rand(2, E, seed=6), rand(2, NZ, seed=7), rand(2, NC, seed=8), rand(2, NC, seed=9)
    with torch.no_grad():
        low, high, _, _ = net(*map(torch.from_numpy, (embedding, z, eps1, eps2)))
    noise = np.concatenate([z, eps1, eps2], 1)
    actual = numpy(model([embedding, noise], training=False))
    assert actual.shape == (2, 64, 64, 3)
    np.testing.assert_allclose(actual, to_nhwc(high), rtol=0, atol=TOLERANCE)
    np.testing.assert_allclose(numpy(stage1_image(model, embedding, noise)), to_nhwc(low), rtol=0, atol=TOLERANCE)


# -- conditioning augmentation and its KL term -----------------------------------------------

def test_conditioning_augmentation_encode_and_sampling():
    ca = ConditioningAugmentation(4, name="conditioning_augmentation")
    embedding = rand(1, 6, seed=10)
    ca.build([(None, 6), (None, 4)])
    kernel, bias = 0.4 * rand(6, 8, seed=11), 0.5 * np.abs(rand(8, seed=12))
    ca.fc.set_weights([kernel, bias])
    fc = np.maximum(embedding @ kernel + bias, 0.0)
    mu, logvar = (numpy(t) for t in ca.encode(embedding))
    np.testing.assert_allclose(mu, fc[:, :4], atol=1e-6)
    np.testing.assert_allclose(logvar, fc[:, 4:], atol=1e-6)
    draws = 20_000
    eps = rand(draws, 4, seed=13)
    c = numpy(ca([np.repeat(embedding, draws, 0), eps]))
    np.testing.assert_allclose(c, mu + np.exp(0.5 * logvar) * eps, rtol=1e-5, atol=1e-5)
    std = np.exp(0.5 * logvar[0])
    np.testing.assert_allclose(c.mean(0), mu[0], atol=0.05 * std.max())
    np.testing.assert_allclose(c.var(0), np.exp(logvar[0]), rtol=0.05)


def test_conditioning_augmentation_samples_in_float32_under_mixed_precision():
    ca = ConditioningAugmentation(4, dtype="mixed_float16")
    embedding, eps = rand(3, 6, seed=14), rand(3, 4, seed=15)
    c = ca([embedding, eps])
    assert c.dtype == tf.float16 and ca.fc.compute_dtype == "float16"
    mu, logvar = (numpy(t).astype(np.float32) for t in ca.encode(embedding))
    np.testing.assert_allclose(numpy(c).astype(np.float32), mu + np.exp(0.5 * logvar) * eps, rtol=2e-3, atol=2e-3)


def test_conditioning_kl_loss_by_hand():
    # dim 1: mu=1, logvar=0 -> -0.5 (1 + 0 - 1 - 1) = 0.5
    # dim 2: mu=0, logvar=log 2 -> -0.5 (1 + log 2 - 0 - 2) = 0.5 (1 - log 2) = 0.15342640972
    mu = tf.constant([[1.0, 0.0], [0.0, 0.0]])
    logvar = tf.constant([[0.0, math.log(2.0)], [0.0, 0.0]])
    kl = numpy(losses.conditioning_kl_loss(mu, logvar))
    assert kl.shape == (2,)
    np.testing.assert_allclose(kl[0], (0.5 + 0.15342640972) / 2, rtol=1e-6)
    assert kl[1] == 0.0
    half = losses.conditioning_kl_loss(tf.constant([[1.0, 0.0]], tf.float16), tf.constant([[0.0, 0.0]], tf.float16))
    assert half.dtype == tf.float32 and numpy(half)[0] == pytest.approx(0.25)


# -- Stage-I frozen inside Stage-II -------------------------------------------------------

def test_stage1_stays_frozen_while_stage2_trains():
    model = build_stage2_generator(small_stage1(16), E, NZ, NC, gf_dim=8, r_num=1)
    stage1 = model.get_layer("stage1_generator")
    assert stage1.trainable is False
    stage1_ids = {id(v) for v in stage1.weights}
    assert stage1_ids and not stage1_ids & {id(v) for v in model.trainable_variables}
    before = [(v, numpy(v).copy()) for v in stage1.weights]
    own = [(v, numpy(v).copy()) for v in model.weights if id(v) not in stage1_ids]
    embedding, noise = rand(4, E, seed=16), rand(4, NZ + 2 * NC, seed=17)
    # Stage-I runs in inference mode even inside a training-mode call.
    low_in_training = keras.Model(model.inputs, model.get_layer("stage1_image").output)([embedding, noise], training=True)
    np.testing.assert_array_equal(numpy(low_in_training), numpy(stage1_image(model, embedding, noise)))
    optimizer = keras.optimizers.Adam(1e-2)
    for _ in range(3):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model([embedding, noise], training=True) - 0.5))
        grads = tape.gradient(loss, model.trainable_variables)
        assert all(g is not None for g in grads)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
    for v, value in before:
        np.testing.assert_array_equal(numpy(v), value, err_msg=v.path)
    changed = {v.path for v, value in own if not np.array_equal(numpy(v), value)}
    assert {"joint_conv/kernel", "joint_bn/moving_mean", "conditioning_augmentation/fc/kernel",
            "image_conv/kernel"} <= changed


# -- save and load -------------------------------------------------------------------------

def test_save_load_round_trip(tmp_path):
    stage1 = small_stage1(16)
    stage2 = build_stage2_generator(small_stage1(16), E, NZ, NC, gf_dim=8, r_num=1)
    embedding = rand(2, E, seed=18)
    for name, model, noise_size in (("g1", stage1, NZ + NC), ("g2", stage2, NZ + 2 * NC)):
        noise = rand(2, noise_size, seed=19)
        model.save(tmp_path / f"{name}.keras")
        loaded = keras.saving.load_model(tmp_path / f"{name}.keras")
        np.testing.assert_array_equal(numpy(loaded([embedding, noise], training=False)),
                                      numpy(model([embedding, noise], training=False)))
        assert isinstance(conditioning_layer(loaded), ConditioningAugmentation)
    assert loaded.get_layer("stage1_generator").trainable is False
    assert count([loaded], trainable_only=True) == count([stage2], trainable_only=True)


# -- refused sizes -------------------------------------------------------------------------

@pytest.mark.parametrize("build, argument", [
    (lambda: build_stage1_generator(E, NZ, NC, gf_dim=4, image_size=48), "image_size"),
    (lambda: build_stage1_generator(E, NZ, NC, gf_dim=4, image_size=4), "image_size"),
    (lambda: build_stage1_generator(E, NZ, NC, gf_dim=1, image_size=256), "gf_dim"),
    (lambda: build_stage1_generator(E, 0, NC, gf_dim=4, image_size=16), "noise_dim"),
    (lambda: build_stage1_discriminator(image_size=100, df_dim=4), "image_size"),
    (lambda: build_stage1_discriminator(image_size=512, df_dim=3), "df_dim"),
    (lambda: build_stage2_discriminator(image_size=8, df_dim=4), "image_size"),
    (lambda: build_conditional_logits(df_dim=4, condition_dim=0), "condition_dim"),
    (lambda: build_stage2_generator(small_stage1(16), E, NZ, NC, gf_dim=2), "gf_dim"),
    (lambda: build_stage2_generator(small_stage1(16), 2 * E, NZ, NC, gf_dim=8), "stage1_generator"),
    (lambda: build_stage2_generator(small_stage1(16), E, NZ, NC, gf_dim=8, r_num=-1), "r_num"),
])
def test_bad_sizes_are_refused(build, argument):
    with pytest.raises(ValueError, match=argument):
        build()
