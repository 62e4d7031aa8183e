"""CUT/FastCUT specifics: PatchNCE by hand, shared patch locations, the anti-aliased networks
against an independent PyTorch rendering, parameter counts, and converting CUT checkpoints.
(Resume, checkpoint contents and the CLI round trip are the family contract test's.)"""

import numpy as np
import pytest
import tensorflow as tf

from tfgan_translate import cut, fastcut, layers, losses, networks
from tfgan_translate.convert import ConversionError, convert_state_dict

torch = pytest.importorskip("torch")
import torch_cut_nets as ref  # noqa: E402 (needs torch)

TOLERANCE = 1e-4


def to_nchw(images):
    return torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))


def state_of(net):
    return {k: v.detach().numpy().astype(np.float32) for k, v in net.state_dict().items()}


# --- PatchNCE ---------------------------------------------------------------------------------

def test_patch_nce_equals_a_hand_computation():
    """Two examples, three patches, 2-d features: the cross-entropy of the positive among
    [q_i.k_i, q_i.k_j (j != i), -10 for j = i] / tau, averaged over patches, per example."""
    rng = np.random.default_rng(0)
    q = rng.normal(size=(2, 3, 2))
    k = rng.normal(size=(2, 3, 2))
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    k /= np.linalg.norm(k, axis=-1, keepdims=True)
    tau = 0.07
    expected = np.zeros(2)
    for b in range(2):
        for i in range(3):
            logits = [q[b, i] @ k[b, i]] + [(q[b, i] @ k[b, j]) if j != i else -10.0 for j in range(3)]
            logits = np.array(logits) / tau
            expected[b] += (np.log(np.exp(logits).sum()) - logits[0]) / 3
    actual = losses.patch_nce_loss(tf.constant(q, tf.float32), tf.constant(k, tf.float32), tau).numpy()
    np.testing.assert_allclose(actual, expected, rtol=1e-5)
    same = losses.patch_nce_loss(tf.constant(k, tf.float32), tf.constant(k, tf.float32), tau).numpy()
    assert np.all(same < actual)  # matching patches are what the loss rewards


def test_patch_nce_gives_no_gradient_to_the_key():
    q = tf.Variable(tf.math.l2_normalize(tf.random.normal([1, 4, 3]), -1))
    k = tf.Variable(tf.math.l2_normalize(tf.random.normal([1, 4, 3]), -1))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(losses.patch_nce_loss(q, k))
    grad_q, grad_k = tape.gradient(loss, [q, k])
    assert grad_k is None and float(tf.reduce_max(tf.abs(grad_q))) > 0


def test_query_and_key_are_gathered_at_the_same_locations(monkeypatch):
    """With the encoder replaced by the identity and a head that passes features through, each
    query row is the target's pixel at the location of the key row, which is the source's: a
    target equal to the source then gives q == k for every sampled patch."""
    config = cut.Config(image_size=8, ngf=4, ndf=4, n_blocks=1, num_patches=5, head_units=4, nce_layers="0")
    trainer = cut.Trainer(config, steps_per_epoch=1)
    trainer.encoder = lambda images, training: [images]
    seen = []
    trainer.patch_head = lambda inputs, training: [tf.math.l2_normalize(x, -1) for x in inputs]
    monkeypatch.setattr(losses, "patch_nce_loss", lambda q, k, t: seen.append((q, k)) or tf.zeros([tf.shape(q)[0]]))
    source = tf.random.uniform([2, 8, 8, 3], -1, 1)
    trainer.nce_losses([source], [source], tf.constant(False))
    query, key = seen[0]
    assert query.shape == (2, 5, 3)
    np.testing.assert_allclose(query.numpy(), key.numpy())
    flat = tf.reshape(tf.math.l2_normalize(source, -1), [2, 64, 3]).numpy()
    rows = [int(np.argmin(np.abs(flat[0] - query[0, p].numpy()).sum(-1))) for p in range(5)]
    assert len(set(rows)) == 5  # five distinct locations
    np.testing.assert_allclose(flat[1][rows], query[1].numpy(), atol=1e-6)  # the same locations in each image


def _pass_through_trainer(monkeypatch, **changes):
    """A trainer whose encoder is the identity and whose head only normalises, recording what
    PatchNCE is given."""
    config = cut.Config(image_size=8, ngf=4, ndf=4, n_blocks=1, num_patches=6, head_units=4, nce_layers="0", **changes)
    trainer = cut.Trainer(config, steps_per_epoch=1)
    trainer.encoder = lambda images, training: [images]
    trainer.patch_head = lambda inputs, training: [tf.math.l2_normalize(x, -1) for x in inputs]
    seen = []
    monkeypatch.setattr(losses, "patch_nce_loss", lambda q, k, t: seen.append((q, k)) or tf.zeros([tf.shape(q)[0]]))
    return trainer, seen


def test_flip_equivariance_flips_the_queries_back_and_not_the_keys(monkeypatch):
    """G(flip(x)) flipped back must line up with x: with an identity encoder and the target the
    flipped source, queries equal keys only if just the queries are flipped back."""
    trainer, seen = _pass_through_trainer(monkeypatch, flip_equivariance=True, nce_idt=False)
    source = tf.random.uniform([2, 8, 8, 3], -1, 1, seed=3)
    trainer.nce_losses([source], [tf.reverse(source, [2])], tf.constant(True))
    np.testing.assert_allclose(seen[0][0].numpy(), seen[0][1].numpy(), atol=1e-6)
    seen.clear()
    trainer.nce_losses([source], [tf.reverse(source, [2])], tf.constant(False))  # not flipped: no match
    assert np.abs(seen[0][0].numpy() - seen[0][1].numpy()).max() > 0.1


def test_each_pair_takes_its_keys_from_its_own_source_when_g_s_features_are_reused(monkeypatch):
    """CUT's default path: two pairs (x and y), the sources' features handed over from G's pass."""
    trainer, seen = _pass_through_trainer(monkeypatch)
    x, y = tf.random.uniform([2, 8, 8, 3], -1, 1, seed=4), tf.random.uniform([2, 8, 8, 3], -1, 1, seed=5)
    trainer.nce_losses([x, y], [x, y], tf.constant(False), source_features=[tf.concat([x, y], 0)])
    assert len(seen) == 2
    for query, key in seen:
        np.testing.assert_allclose(query.numpy(), key.numpy(), atol=1e-6)
    seen.clear()
    trainer.nce_losses([x, y], [y, x], tf.constant(False), source_features=[tf.concat([x, y], 0)])
    assert all(np.abs(q.numpy() - k.numpy()).max() > 0.1 for q, k in seen)


def test_the_head_normalises_in_float32_under_mixed_float16():
    """The reference's tiny init makes the head's outputs about 1e-5: in float16 their squares
    underflow and the normalisation breaks; the head stays float32 and its vectors unit-length."""
    import keras

    before = keras.mixed_precision.global_policy().name
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        head = cut.build_models(cut.Config(image_size=32, ngf=4, ndf=4, n_blocks=1, nce_layers="0,4"))["patch_head"]
        outputs = head([tf.random.normal([5, 3]), tf.random.normal([5, 8])])
    finally:
        keras.mixed_precision.set_global_policy(before)
    for vectors in outputs:
        assert vectors.dtype == tf.float32
        np.testing.assert_allclose(tf.norm(vectors, axis=-1).numpy(), 1.0, atol=1e-3)


def test_batch_norm_runs_the_encoder_per_tensor(monkeypatch):
    """Batch statistics depend on the batch: with batch norm the encoder sees each tensor alone,
    as the reference's separate calls do, and G's features are not reused."""
    trainer, seen = _pass_through_trainer(monkeypatch, norm="batch")
    calls = []
    trainer.encoder = lambda images, training: calls.append(int(images.shape[0])) or [images]
    x = tf.random.uniform([2, 8, 8, 3], -1, 1, seed=6)
    trainer.nce_losses([x, x], [x, x], tf.constant(False), source_features=[tf.concat([x, x], 0)])
    assert calls == [2, 2, 2, 2]


# --- the anti-aliased networks ------------------------------------------------------------------

def test_blur_layers_compute_cuts_downsample_and_upsample():
    images = np.random.default_rng(1).normal(size=(2, 6, 10, 3)).astype(np.float32)
    with torch.no_grad():
        down = ref.Downsample(3)(to_nchw(images)).numpy().transpose(0, 2, 3, 1)
        up = ref.Upsample(3)(to_nchw(images)).numpy().transpose(0, 2, 3, 1)
    np.testing.assert_allclose(layers.BlurPool2D()(images).numpy(), down, atol=1e-6)
    np.testing.assert_allclose(layers.BlurUpsample2D()(images).numpy(), up, atol=1e-6)
    assert down.shape == (2, 3, 5, 3) and up.shape == (2, 12, 20, 3)


def test_reference_parameter_counts():
    """G and D of the reference (ngf = ndf = 64): the blur modules have no parameters, so CUT's
    networks count what CycleGAN's do; the head is CUT's 0.560 M netF (5 MLPs of 256 units on
    3, 128, 256, 256 and 256 channels)."""
    models = cut.build_models(cut.Config())
    count = {name: sum(int(np.prod(w.shape)) for w in m.trainable_weights) for name, m in models.items()}
    head = sum(c * 256 + 256 + 256 * 256 + 256 for c in (3, 128, 256, 256, 256))
    assert count == {"generator": 11_378_179, "discriminator": 2_764_737, "patch_head": head} and head == 560_384
    torch_count = sum(p.numel() for p in ref.AntialiasedResnetGenerator().parameters())
    assert torch_count == 11_378_179


@pytest.mark.parametrize("n_blocks,arch", [(9, "cut_resnet_9blocks"), (6, "cut_resnet_6blocks")])
def test_converted_cut_generator_computes_the_pytorch_rendering(n_blocks, arch):
    net = ref.randomize(ref.AntialiasedResnetGenerator(ngf=8, n_blocks=n_blocks), seed=n_blocks)
    model = convert_state_dict(state_of(net), arch)
    images = np.random.default_rng(2).uniform(-1, 1, (2, 36, 44, 3)).astype(np.float32)
    with torch.no_grad():
        expected = net(to_nchw(images)).numpy().transpose(0, 2, 3, 1)
    np.testing.assert_allclose(model(images, training=False).numpy(), expected, atol=TOLERANCE)
    assert 0.05 < np.abs(expected).mean() < 0.95  # neither flat nor saturated


def test_the_encoder_returns_the_reference_layers_features():
    """nce_layers index the same modules in both: 0 (padded input), 4, 8 (the two downsampling
    convolutions), 12 and 16 (the first and fifth residual blocks)."""
    net = ref.randomize(ref.AntialiasedResnetGenerator(ngf=8, n_blocks=9), seed=3)
    generator = convert_state_dict(state_of(net), "cut_resnet_9blocks")
    encoder = networks.build_feature_encoder(generator, (0, 4, 8, 12, 16), 9, "antialiased", "antialiased")
    images = np.random.default_rng(4).uniform(-1, 1, (1, 32, 32, 3)).astype(np.float32)
    with torch.no_grad():
        expected = [f.numpy().transpose(0, 2, 3, 1) for f in net(to_nchw(images), layers=(0, 4, 8, 12, 16))]
    ours = encoder(images)
    assert [f.shape[1:] for f in ours] == [(38, 38, 3), (32, 32, 16), (16, 16, 32), (8, 8, 32), (8, 8, 32)]
    for actual, wanted in zip(ours, expected):
        np.testing.assert_allclose(actual.numpy(), wanted, atol=TOLERANCE)


def test_converted_cut_discriminator_computes_the_pytorch_rendering():
    net = ref.randomize(ref.AntialiasedPatchGAN(ndf=8), seed=5)
    model = convert_state_dict(state_of(net), "cut_basic")
    images = np.random.default_rng(6).uniform(-1, 1, (2, 64, 64, 3)).astype(np.float32)
    with torch.no_grad():
        expected = net(to_nchw(images)).numpy().transpose(0, 2, 3, 1)
    assert expected.shape == (2, 6, 6, 1)
    np.testing.assert_allclose(model(images, training=False).numpy(), expected, atol=TOLERANCE)


def test_cut_and_cyclegan_checkpoints_are_told_apart():
    cut_state = state_of(ref.AntialiasedResnetGenerator(ngf=8, n_blocks=6))
    with pytest.raises(ConversionError, match="CUT's anti-aliasing filters.*--arch cut_resnet_6blocks"):
        convert_state_dict(cut_state, "resnet_6blocks")
    broken = {**cut_state, "model.7.filt": cut_state["model.7.filt"] * 2}
    with pytest.raises(ConversionError, match="'model.7.filt' is not CUT's fixed binomial filter"):
        convert_state_dict(broken, "cut_resnet_6blocks")
    without = {k: v for k, v in cut_state.items() if k != "model.18.filt"}  # the first Upsample (6 blocks)
    with pytest.raises(ConversionError, match="no blur filter 'model.18.filt'"):
        convert_state_dict(without, "cut_resnet_6blocks")


# --- configs ------------------------------------------------------------------------------------

def test_presets_are_the_references():
    c, f = cut.Config(), fastcut.Config()
    assert (c.lambda_gan, c.lambda_nce, c.nce_idt, c.flip_equivariance, c.n_epochs, c.n_epochs_decay) == \
        (1.0, 1.0, True, False, 200, 200)
    assert (f.lambda_nce, f.nce_idt, f.flip_equivariance, f.n_epochs, f.n_epochs_decay) == (10.0, False, True, 150, 50)
    assert (c.nce_layer_ids, c.num_patches, c.nce_temperature, c.head_units, c.gan_loss, c.norm, c.lr,
            c.beta_1, c.beta_2, c.batch_size, c.antialias, c.antialias_up, c.init_gain) == \
        ((0, 4, 8, 12, 16), 256, 0.07, 256, "lsgan", "instance", 2e-4, 0.5, 0.999, 1, True, True, 0.02)


@pytest.mark.parametrize("changes,message", [
    (dict(nce_layers="0,4,x"), "comma-separated module indices"),
    (dict(nce_layers="0,40", n_blocks=1), "layer 40 is not one of the generator's modules"),
    (dict(generator="unet"), "generator must be resnet"),
    (dict(output_channels=1), "same number of channels in both domains"),
    (dict(output_channels=1, nce_idt=False), "passes G\\(x\\) back through G's own encoder"),
])
def test_bad_settings_are_named(changes, message):
    with pytest.raises(ValueError, match=message):
        cut.Config(**changes)


def test_xavier_init_has_the_references_spread():
    """Xavier-normal with gain 0.02: std = 0.02 sqrt(2 / (fan_in + fan_out)), biases zero."""
    model = cut.build_models(cut.Config(ngf=16, ndf=16, n_blocks=2, nce_layers="0,4,8,12"))["generator"]
    kernel = model.get_layer("res1_conv1").kernel.numpy()  # 3x3, 64 -> 64
    expected = 0.02 * np.sqrt(2.0 / (2 * 64 * 9))
    assert kernel.std() == pytest.approx(expected, rel=0.05)
    assert np.all(model.get_layer("res1_conv1").bias.numpy() == 0)


@pytest.mark.slow
def test_trains_mirrored_on_virtual_cpus_in_bfloat16(tmp_path, family="cut"):
    """Strategies and mixed precision, the user's way (each replica samples its patches, and the
    head and its loss run in bfloat16 with float32 losses). CUT only: FastCUT is the same trainer
    with another config (no identity NCE term), and each run costs CI half a minute."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    command = [sys.executable, "-m", "tfgan_translate", "train", family, "--dataset", "demo-unpaired",
               "--run-dir", str(tmp_path / "run"), "--image-size", "32", "--ngf", "4", "--ndf", "4", "--n-blocks", "1",
               "--nce-layers", "0,4,8,12", "--num-patches", "16", "--batch-size", "2", "--steps", "2", "--no-progress",
               "--strategy", "mirrored", "--virtual-cpus", "2", "--precision", "mixed_bfloat16"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=Path(__file__).resolve().parents[1],
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert done.returncode == 0, done.stderr[-3000:]
    assert "2 replica(s), mixed_bfloat16" in done.stdout and "step 2:" in done.stdout
    assert "nce" in done.stdout.split("step 2:")[1]
