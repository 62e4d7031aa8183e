"""pix2pixHD: reference parameter counts, multi-scale D, losses by hand, coarse-to-fine
schedule, training on the paired demo data, exact resume and the CLI round trip."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfgan_translate import data, perceptual, pix2pixhd, training
from tfgan_translate.networks import pix2pixhd as hd

SIZE = 32


def conv_params(k, c_in, c_out):
    """A k x k (transposed) convolution with bias: k*k*c_in*c_out weights + c_out biases."""
    return k * k * c_in * c_out + c_out


def count(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def tiny_config(**overrides):
    fields = dict(image_size=SIZE, ngf=4, ndf=4, n_downsample_global=2, n_blocks=1, n_blocks_local=1, num_d=2,
                  batch_size=2)
    return pix2pixhd.Config(**{**fields, **overrides})


# -- networks --------------------------------------------------------------------------

@pytest.mark.slow
def test_global_generator_has_the_published_parameter_count():
    """G1, ngf 64, 4 downsamplings, 9 residual blocks, 3 -> 3 channels (official layer list):
    c7s1-64; down 64->128->256->512->1024 (3x3 s2); 9 x R1024 = 18 convs 3x3 1024->1024;
    up (3x3 transposed) 1024->512->256->128->64; c7s1-3. Every conv has a bias; instance
    norm has no parameters."""
    ngf, n_down = 64, 4
    expected = conv_params(7, 3, ngf)
    expected += sum(conv_params(3, ngf * 2**i, ngf * 2 ** (i + 1)) for i in range(n_down))
    expected += 9 * 2 * conv_params(3, ngf * 2**n_down, ngf * 2**n_down)
    expected += sum(conv_params(3, ngf * 2 ** (n_down - i), ngf * 2 ** (n_down - i - 1)) for i in range(n_down))
    expected += conv_params(7, ngf, 3)
    assert expected == 182_443_267  # the same sum, written out once for the reader
    model = hd.build_global_generator((None, None, 3), 3, ngf=64, n_downsampling=4, n_blocks=9)
    assert count(model) == expected


def test_multiscale_discriminator_scale_has_the_published_parameter_count():
    """One 3-layer PatchGAN of the multi-scale D (ndf 64) on input (3) + image (3) = 6 channels:
    C64 s2, C128 s2, C256 s2, C512 s1, C1 s1, all 4x4 with biases (instance norm: none)."""
    per_scale = (conv_params(4, 6, 64) + conv_params(4, 64, 128) + conv_params(4, 128, 256)
                 + conv_params(4, 256, 512) + conv_params(4, 512, 1))
    assert per_scale == 2_767_809
    d = hd.build_multiscale_discriminator((None, None, 6), ndf=64, n_layers=3, num_d=3)
    scales = [layer for layer in d.layers if layer.name.startswith("scale")]
    assert [count(s) for s in scales] == [per_scale] * 3
    assert count(d) == 3 * per_scale


def test_local_enhancer_parameter_count_and_global_part():
    """G2 with ngf 4, 1 enhancer: G1 at ngf 8 (2 downsamplings, 1 block) without its head, plus
    the enhancer: c7s1-4, conv3 s2 4->8, 1 x R8, up 8->4, c7s1-3."""
    g1_trunk = (conv_params(7, 3, 8) + conv_params(3, 8, 16) + conv_params(3, 16, 32) + 2 * conv_params(3, 32, 32)
                + conv_params(3, 32, 16) + conv_params(3, 16, 8))
    enhancer = (conv_params(7, 3, 4) + conv_params(3, 4, 8) + 2 * conv_params(3, 8, 8) + conv_params(3, 8, 4)
                + conv_params(7, 4, 3))
    g2 = hd.build_local_enhancer((None, None, 3), 3, ngf=4, n_downsample_global=2, n_blocks_global=1,
                                 n_blocks_local=1)
    assert count(g2) == g1_trunk + enhancer
    global_part = [w for layer in g2.layers if layer.name.startswith("global_") for w in layer.trainable_weights]
    assert sum(int(np.prod(w.shape)) for w in global_part) == g1_trunk
    assert g2(tf.zeros((1, 64, 48, 3))).shape == (1, 64, 48, 3)


def test_multiscale_discriminator_returns_one_map_per_scale_with_the_reference_sizes():
    """Kernel 4, padding 2: stride-2 layers map s -> s // 2 + 1, stride-1 layers s -> s + 1.
    64: 33, 17, 9, then 10, 11.  Scale 1 sees 32: 17, 9, 5, 6, 7.  Scale 2 sees 16: 9, 5, 3, 4, 5."""
    d = hd.build_multiscale_discriminator((None, None, 6), ndf=4, n_layers=3, num_d=3)
    outputs = d(tf.zeros((2, 64, 64, 6)))
    assert len(outputs) == 3
    sides = [[int(t.shape[1]) for t in scale] for scale in outputs]
    assert sides == [[33, 17, 9, 10, 11], [17, 9, 5, 6, 7], [9, 5, 3, 4, 5]]
    assert [int(t.shape[-1]) for t in outputs[0]] == [4, 8, 16, 32, 1]
    logits_only = hd.build_multiscale_discriminator((None, None, 6), ndf=4, num_d=2, return_features=False)
    assert [tuple(o.shape) for o in logits_only(tf.zeros((1, 64, 64, 6)))] == [(1, 11, 11, 1), (1, 7, 7, 1)]


def test_downsampling_averages_over_pixels_inside_the_image():
    """AvgPool2d(3, 2, padding 1, count_include_pad=False) on 0..15 in a 4x4 grid:
    top-left window = rows 0-1, cols 0-1 = (0 + 1 + 4 + 5) / 4 = 2.5; top-right = cols 1-3,
    rows 0-1 = (1 + 2 + 3 + 5 + 6 + 7) / 6 = 4; bottom-left rows 1-3, cols 0-1 =
    (4 + 5 + 8 + 9 + 12 + 13) / 6 = 8.5; bottom-right rows 1-3, cols 1-3 = 90 / 9 = 10."""
    x = tf.reshape(tf.range(16, dtype=tf.float32), (1, 4, 4, 1))
    np.testing.assert_allclose(hd.AvgPoolDownsample()(x)[0, ..., 0].numpy(), [[2.5, 4.0], [8.5, 10.0]], rtol=1e-6)
    assert hd.AvgPoolDownsample()(tf.zeros((1, 5, 7, 2))).shape == (1, 3, 4, 2)


def test_global_weights_copy_into_the_local_enhancer():
    g1 = hd.build_global_generator((None, None, 3), ngf=8, n_downsampling=2, n_blocks=1)
    g2 = hd.build_local_enhancer((None, None, 3), ngf=4, n_downsample_global=2, n_blocks_global=1)
    assert hd.copy_global_weights(g1, g2) == 7  # in_conv, 2 down, 2 residual convs, 2 up
    np.testing.assert_array_equal(g2.get_layer("global_res1_conv2").kernel.numpy(),
                                  g1.get_layer("res1_conv2").kernel.numpy())
    wrong = hd.build_global_generator((None, None, 3), ngf=4, n_downsampling=2, n_blocks=1)
    with pytest.raises(ValueError, match="ngf = local ngf"):
        hd.copy_global_weights(wrong, g2)


# -- losses ----------------------------------------------------------------------------

def test_feature_matching_by_hand():
    """Two scales, n_layers 1 (two feature maps + logits each), so feat_weight = 4/2 = 2
    and D_weight = 1/2. Example 0: scale 0 differs by 1 everywhere in layer 1 and by 3 in
    layer 2; scale 1 by 2 in layer 1 and 0 in layer 2:
    2 * 1/2 * ((1 + 3) + (2 + 0)) = 6. Example 1 is identical: 0. Logits are ignored."""
    def maps(*values):
        return [tf.constant(np.full((2, 2, 2, 1), v, np.float32)) for v in values]

    real = [maps(0.0, 0.0, 5.0), maps(0.0, 1.0, 5.0)]
    fake = [maps(1.0, -3.0, -9.0), maps(2.0, 1.0, 9.0)]
    fake = [[tf.concat([f[:1], r[:1]], 0) for f, r in zip(fs, rs)] for fs, rs in zip(fake, real)]
    got = pix2pixhd.multiscale_feature_matching_loss(real, fake).numpy()
    np.testing.assert_allclose(got, [6.0, 0.0], rtol=1e-6)


def test_feature_matching_gradient_reaches_fake_only():
    real = [[tf.Variable(tf.ones((1, 2, 2, 1))), tf.zeros((1, 1, 1, 1))]]
    fake = [[tf.Variable(tf.zeros((1, 2, 2, 1))), tf.zeros((1, 1, 1, 1))]]
    with tf.GradientTape() as tape:
        loss = pix2pixhd.multiscale_feature_matching_loss(real, fake)
    grad_real, grad_fake = tape.gradient(loss, [real[0][0], fake[0][0]])
    assert grad_real is None
    np.testing.assert_allclose(grad_fake.numpy(), np.full((1, 2, 2, 1), -4.0 / 4))  # 4/(n_layers+1)=4, mean of 4


def test_instance_boundaries_by_hand():
    """Ids
        1 1 2
        1 1 2
        3 3 3
    Column 1|2 differs in rows 0-1; row 1|2 differs everywhere: every pixel touches a change
    except (0, 0)."""
    ids = tf.constant([[[1, 1, 2], [1, 1, 2], [3, 3, 3]]])
    expected = [[0, 1, 1], [1, 1, 1], [1, 1, 1]]
    edges = pix2pixhd.instance_boundaries(ids)
    assert edges.shape == (1, 3, 3, 1) and edges.dtype == tf.float32
    np.testing.assert_array_equal(edges[0, ..., 0].numpy(), expected)
    single = pix2pixhd.instance_boundaries(tf.constant([[[[7], [7]], [[7], [9]]]]))
    np.testing.assert_array_equal(single[0, ..., 0].numpy(), [[0, 1], [1, 1]])


def test_vgg_preprocessing_matches_keras():
    x = tf.constant([[[[-1.0, 0.0, 1.0]]]])
    expected = keras.applications.vgg19.preprocess_input((x.numpy() + 1.0) * 127.5)
    np.testing.assert_allclose(perceptual.vgg_preprocess(x).numpy(), expected, atol=1e-4)


@pytest.mark.slow
def test_vgg_loss_mechanics_with_random_weights(tmp_path):
    """With random VGG19 weights: the loss is the weighted per-layer L1, zero for equal
    images, gradients reach the fake only; weights load from a file the user names."""
    keras.utils.set_random_seed(0)
    vgg = perceptual.build_vgg19_features(None)
    rng = np.random.default_rng(0)
    real = tf.constant(rng.uniform(-1, 1, (2, SIZE, SIZE, 3)).astype(np.float32))
    fake = tf.Variable(rng.uniform(-1, 1, (2, SIZE, SIZE, 3)).astype(np.float32))
    phi_real = vgg(perceptual.vgg_preprocess(real))
    phi_fake = vgg(perceptual.vgg_preprocess(fake))
    assert [int(p.shape[1]) for p in phi_real] == [32, 16, 8, 4, 2]
    by_hand = sum(w * np.abs(f.numpy() - r.numpy()).reshape(2, -1).mean(1)
                  for w, r, f in zip([1 / 32, 1 / 16, 1 / 8, 1 / 4, 1], phi_real, phi_fake))
    with tf.GradientTape() as tape:
        loss = perceptual.vgg_loss(vgg, real, fake)
    np.testing.assert_allclose(loss.numpy(), by_hand, rtol=1e-4)
    assert np.abs(tape.gradient(loss, fake).numpy()).sum() > 0
    np.testing.assert_allclose(perceptual.vgg_loss(vgg, real, real).numpy(), [0.0, 0.0], atol=1e-6)

    # A weights file of the whole VGG19 trunk (as the Keras notop file is) loads by name.
    full = keras.applications.VGG19(include_top=False, weights=None)
    path = tmp_path / "vgg19_notop.weights.h5"
    full.save_weights(path)
    loaded = perceptual.build_vgg19_features(str(path))
    trunk = keras.Model(full.input, full.get_layer("block5_conv1").output)
    np.testing.assert_allclose(loaded(perceptual.vgg_preprocess(real))[4].numpy(),
                               trunk(perceptual.vgg_preprocess(real)).numpy(), rtol=1e-4, atol=1e-5)


def test_vgg_without_weights_file_says_which_field_and_which_file(tmp_path):
    missing = str(tmp_path / "nope.h5")
    with pytest.raises(ValueError, match=r"vgg_weights=.*no such file.*vgg19_weights_tf_dim_ordering_tf_kernels_notop"):
        tiny_config(vgg_weights=missing)
    with pytest.raises(ValueError, match="would download"):
        tiny_config(vgg_weights="imagenet")
    assert pix2pixhd.Config().vgg_weights is None and pix2pixhd.Trainer.__doc__  # default: no VGG loss


def test_configs_refuse_bad_values_with_their_names():
    with pytest.raises(ValueError, match="multiple of 16"):
        pix2pixhd.Config(image_size=40)
    with pytest.raises(ValueError, match="multiple of 32 and at least 64"):
        pix2pixhd.Config(image_size=32, n_local_enhancers=1)
    with pytest.raises(ValueError, match="n_local_enhancers >= 1"):
        pix2pixhd.Config(niter_fix_global=10)
    with pytest.raises(ValueError, match="gan_loss must be one of vanilla"):
        pix2pixhd.Config(gan_loss="bce")


# -- training --------------------------------------------------------------------------

def demo_dataset_fn(batch_size, size=SIZE):
    return lambda epoch: data.demo_paired("edges2photo", image_size=size, batch_size=batch_size,
                                          seed=epoch, deterministic=True)


@pytest.mark.slow
def test_monitored_l1_falls_on_the_paired_demo_data():
    """pix2pixHD trains no L1, so the reconstruction loss we watch is the monitored
    ``l1`` = mean |G(s) - x| (not trained): LSGAN + feature matching must pull it down.

    The data are the paired demo's gray -> colour task (``demo-gray2color``, 32 px). On its
    edges -> photo task even a generator trained on L1 alone only goes from 0.385 to 0.35 in
    100 steps (the colours are not in the edges), too little to tell learning from noise.
    Measured here: about 0.38 over the first steps, 0.33 after 150-200.
    """
    config = pix2pixhd.Config(image_size=SIZE, ngf=8, ndf=8, n_downsample_global=3, n_blocks=2, batch_size=4,
                              lr=2e-4, num_d=2)
    trainer = pix2pixhd.Trainer(config, steps_per_epoch=100)
    step = tf.function(trainer.train_step)
    history = []
    for epoch in range(2):
        for batch in data.demo_paired("gray2color", image_size=SIZE, batch_size=4, seed=epoch, deterministic=True):
            values = step(batch)
            history.append(float(values["l1"]))
    assert len(history) == 200 and set(values) == {"g_gan", "g_feat", "d", "l1"}
    assert np.mean(history[-40:]) < 0.92 * np.mean(history[:10]), history


def test_instance_map_is_appended_to_generator_and_discriminator_inputs():
    config = tiny_config(use_instance_map=True)
    trainer = pix2pixhd.Trainer(config, steps_per_epoch=1)
    assert trainer.generator.input_shape[-1] == 4 and trainer.discriminator.input_shape[-1] == 7
    ids = np.zeros((2, SIZE, SIZE), np.int32)
    ids[:, :, SIZE // 2:] = 1
    batch = {"a": tf.zeros((2, SIZE, SIZE, 3)), "b": tf.zeros((2, SIZE, SIZE, 3)), "instance": ids}
    condition = trainer.generator_input(batch)
    np.testing.assert_array_equal(condition[0, 0, :, 3].numpy(), [0] * (SIZE // 2 - 1) + [1, 1] + [0] * (SIZE // 2 - 1))
    assert np.isfinite(float(trainer.train_step(batch)["g_feat"]))
    with pytest.raises(ValueError, match='no "instance"'):
        trainer.generator_input({"a": batch["a"]})


def _fit(config, run_dir, steps, steps_per_epoch=2):
    trainer = pix2pixhd.Trainer(config, steps_per_epoch=steps_per_epoch)
    result = training.fit(trainer, lambda e: demo_dataset_fn(config.batch_size, config.image_size)(e).take(steps_per_epoch),
                          run_dir, steps_per_epoch=steps_per_epoch, total_steps=steps, progress=False,
                          sample_every=0, checkpoint_every=0)
    return trainer, result


def _weights(model, prefix):
    return {w.path: w.numpy().copy() for layer in model.layers if layer.name.startswith(prefix)
            for w in layer.trainable_weights}


@pytest.mark.slow
def test_coarse_to_fine_initialises_and_fixes_the_global_generator(tmp_path):
    """Stage 1 trains G1 (ngf 8) at 16 px; stage 2 builds G2 (ngf 4, 1 enhancer) at 32 px from
    it: its global_ layers start equal to G1's, stay fixed for niter_fix_global = 1 epoch
    (2 steps) while the enhancer learns, and learn after."""
    stage1 = tiny_config(ngf=8, image_size=16)
    g1, _ = _fit(stage1, tmp_path / "global", 2)
    config = tiny_config(n_local_enhancers=1, global_run_dir=str(tmp_path / "global"), niter_fix_global=1)
    trainer = pix2pixhd.Trainer(config, steps_per_epoch=2)
    for name in ("in_conv", "down1_conv", "res1_conv2", "up2_conv"):
        np.testing.assert_array_equal(trainer.generator.get_layer("global_" + name).kernel.numpy(),
                                      g1.generator.get_layer(name).kernel.numpy())
    start_global, start_local = _weights(trainer.generator, "global_"), _weights(trainer.generator, "local1_")
    step = tf.function(trainer.train_step)
    batches = list(demo_dataset_fn(2)(0).take(4))
    for batch in batches[:2]:  # epoch 0: G1 fixed
        step(batch)
    after_fixed = _weights(trainer.generator, "global_")
    for path, value in start_global.items():
        np.testing.assert_array_equal(after_fixed[path], value, err_msg=path)
    assert any(np.abs(v - start_local[p]).max() > 0 for p, v in _weights(trainer.generator, "local1_").items())
    for batch in batches[2:]:  # epoch 1: everything learns
        step(batch)
    assert all(np.abs(v - after_fixed[p]).max() > 0 for p, v in _weights(trainer.generator, "global_").items())

    with pytest.raises(ValueError, match="ngf is 8, needs 16"):
        pix2pixhd.Trainer(tiny_config(ngf=8, n_local_enhancers=1,
                                      global_run_dir=str(tmp_path / "global")))


@pytest.mark.slow
def test_resume_continues_exactly_across_the_fixed_global_epochs(tmp_path):
    """Stop after 3 steps (mid-epoch 1, just after the switch from the local optimizer to the
    full one), resume to 6: weights equal an uninterrupted 6-step run."""
    tf.config.experimental.enable_op_determinism()
    config = tiny_config(n_local_enhancers=1, niter_fix_global=1, num_d=1)
    straight, result = _fit(config, tmp_path / "straight", 6)
    assert result.step == 6
    _fit(config, tmp_path / "resumed", 3)
    resumed, second = _fit(config, tmp_path / "resumed", 6)
    assert second.resumed_from.endswith("ckpt-3") and second.step == 6
    assert int(resumed.local_optimizer.iterations) == 6
    for name, model in straight.models.items():
        for a, b in zip(model.weights, resumed.models[name].weights):
            np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6, err_msg=f"{name}/{a.path}")


def test_demo_quality_report_compares_with_the_untrained_generator_and_the_input():
    """``pix2pixhd.paired_test_report`` (the demo's figures) on the held-out gray -> colour split: a generator that
    copies its input must score exactly the input's figures, and the untrained figures are
    those of the config's seeded initial generator (not of the trained one)."""
    from tfgan_translate import metrics

    config = tiny_config(n_blocks=1)

    class CopyTrainer:
        def __init__(self):
            self.config = config

        def generator(self, images, training=False):
            return images

    report = pix2pixhd.paired_test_report(CopyTrainer())
    assert report["test_psnr_db"] == report["input_test_psnr_db"] and report["test_l1"] == report["input_test_l1"]
    test = next(iter(data.demo_paired("gray2color", split="test", image_size=SIZE, batch_size=100)))
    fresh = pix2pixhd.Trainer(config).generator(test["a"], training=False)
    assert report["untrained_test_psnr_db"] == pytest.approx(float(tf.reduce_mean(metrics.psnr(fresh, test["b"]))), abs=0.01)
    assert report["psnr_gain_over_untrained_db"] == pytest.approx(
        report["test_psnr_db"] - report["untrained_test_psnr_db"], abs=0.011)
