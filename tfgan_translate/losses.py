"""GAN, reconstruction and feature-matching losses as pure functions of tensors.

Every function returns one value per example (shape ``(B,)``) so that the trainer reduces
once, with ``tf.nn.compute_average_loss(..., global_batch_size=...)``, and distribution
strategies average correctly. Discriminator outputs may be a logits map (PatchGAN), a
plain vector, or a list of maps (multi-scale discriminators): a map is averaged over its
positions and a list is summed over its discriminators, as pix2pixHD does.

Naming: ``<kind>_generator_loss(fake_logits)`` and
``<kind>_discriminator_loss(real_logits, fake_logits)``. Weights (lambda) are applied by
the caller, and so is the reference's halving of the discriminator loss.
"""

import math

import tensorflow as tf


def mean_loss(per_example):
    """Average per-example losses over the global batch (correct under tf.distribute)."""
    return tf.nn.compute_average_loss(per_example)


def _as_list(outputs):
    return list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]


def per_example_mean(x):
    """Mean over every axis but the first: ``(B, ...) -> (B,)``, in float32."""
    x = tf.cast(x, tf.float32)
    if x.shape.rank is not None and x.shape.rank <= 1:
        return tf.reshape(x, [-1])
    return tf.reduce_mean(tf.reshape(x, [tf.shape(x)[0], -1]), axis=1)


def _sum_over_discriminators(fn, *outputs):
    """Apply ``fn`` to matching maps of one or several discriminators and add the results."""
    lists = [_as_list(o) for o in outputs]
    if len({len(items) for items in lists}) != 1:
        raise ValueError(f"real and fake outputs have different numbers of maps: {[len(x) for x in lists]}")
    return tf.add_n([per_example_mean(fn(*maps)) for maps in zip(*lists)])


# -- vanilla GAN (Goodfellow et al., 2014), binary cross-entropy on logits --------------

def vanilla_generator_loss(fake_logits):
    """Non-saturating loss ``-log D(G(x))`` = BCE(fake, 1) = softplus(-logit)."""
    return _sum_over_discriminators(lambda f: tf.nn.softplus(-tf.cast(f, tf.float32)), fake_logits)


def vanilla_discriminator_loss(real_logits, fake_logits):
    """``-log D(y) - log(1 - D(G(x)))`` = BCE(real, 1) + BCE(fake, 0)."""
    return _sum_over_discriminators(
        lambda r, f: tf.nn.softplus(-tf.cast(r, tf.float32)) + tf.nn.softplus(tf.cast(f, tf.float32)),
        real_logits,
        fake_logits,
    )


# -- least squares GAN (Mao et al., 2017), the CycleGAN choice -------------------------

def lsgan_generator_loss(fake_logits):
    """``(D(G(x)) - 1)^2``."""
    return _sum_over_discriminators(lambda f: tf.square(tf.cast(f, tf.float32) - 1.0), fake_logits)


def lsgan_discriminator_loss(real_logits, fake_logits):
    """``(D(y) - 1)^2 + D(G(x))^2``."""
    return _sum_over_discriminators(
        lambda r, f: tf.square(tf.cast(r, tf.float32) - 1.0) + tf.square(tf.cast(f, tf.float32)),
        real_logits,
        fake_logits,
    )


# -- Wasserstein GAN (Arjovsky et al., 2017); critic scores, not probabilities -----------

def wgan_generator_loss(fake_logits):
    """``-D(G(x))``."""
    return _sum_over_discriminators(lambda f: -tf.cast(f, tf.float32), fake_logits)


def wgan_discriminator_loss(real_logits, fake_logits):
    """``D(G(x)) - D(y)``; add a gradient penalty or clip the weights to keep D Lipschitz."""
    return _sum_over_discriminators(
        lambda r, f: tf.cast(f, tf.float32) - tf.cast(r, tf.float32), real_logits, fake_logits
    )


# -- hinge loss (Lim & Ye, 2017; Miyato et al., 2018) -----------------------------------

def hinge_generator_loss(fake_logits):
    """``-D(G(x))``, the same as the Wasserstein generator loss."""
    return wgan_generator_loss(fake_logits)


def hinge_discriminator_loss(real_logits, fake_logits):
    """``max(0, 1 - D(y)) + max(0, 1 + D(G(x)))``."""
    return _sum_over_discriminators(
        lambda r, f: tf.nn.relu(1.0 - tf.cast(r, tf.float32)) + tf.nn.relu(1.0 + tf.cast(f, tf.float32)),
        real_logits,
        fake_logits,
    )


GAN_LOSSES = {
    "vanilla": (vanilla_generator_loss, vanilla_discriminator_loss),
    "lsgan": (lsgan_generator_loss, lsgan_discriminator_loss),
    "wgan": (wgan_generator_loss, wgan_discriminator_loss),
    "hinge": (hinge_generator_loss, hinge_discriminator_loss),
}


def gan_losses(kind):
    """``(generator_loss, discriminator_loss)`` for ``"vanilla" | "lsgan" | "wgan" | "hinge"``."""
    try:
        return GAN_LOSSES[kind]
    except KeyError:
        raise ValueError(f"unknown GAN loss {kind!r}; choose one of {', '.join(GAN_LOSSES)}") from None


def gradient_penalty(critic, real, fake, alpha=None, target_norm=1.0, seed=None):
    """WGAN-GP term ``(||grad_x D(x_hat)||_2 - 1)^2`` (Gulrajani et al., 2017), per example.

    ``x_hat = alpha * real + (1 - alpha) * fake`` with one ``alpha ~ U(0, 1)`` per example.
    For a critic that outputs a map (PatchGAN) or a list of maps, the gradient is that of
    the sum of its outputs, as the reference ``cal_gradient_penalty`` does. The weight
    (gamma, 10 in the paper) is applied by the caller.

    Args:
        critic: callable from images to scores, e.g. a Keras discriminator.
        real, fake: image batches of the same shape.
        alpha: optional interpolation weights of shape ``(B,)``; random when omitted.
        target_norm: the Lipschitz constant to push toward.
        seed: optional ``(2,)`` int seed for a stateless ``alpha``.
    """
    real = tf.cast(real, tf.float32)
    fake = tf.cast(fake, tf.float32)
    batch = tf.shape(real)[0]
    if alpha is None:
        shape = [batch]
        alpha = (
            tf.random.stateless_uniform(shape, seed=seed) if seed is not None else tf.random.uniform(shape)
        )
    alpha = tf.reshape(tf.cast(alpha, tf.float32), [-1] + [1] * (real.shape.rank - 1))
    interpolated = alpha * real + (1.0 - alpha) * fake
    with tf.GradientTape() as tape:
        tape.watch(interpolated)
        scores = _as_list(critic(interpolated))
        total = tf.add_n([tf.reduce_sum(tf.cast(s, tf.float32)) for s in scores])
    grads = tape.gradient(total, interpolated)
    norms = tf.sqrt(tf.reduce_sum(tf.reshape(tf.square(grads), [batch, -1]), axis=1) + 1e-12)
    return tf.square(norms - target_norm)


# -- reconstruction losses ---------------------------------------------------------------

def l1_loss(target, prediction):
    """Mean absolute error per example, the pix2pix ``L_L1`` (weight 100 in the paper)."""
    return per_example_mean(tf.abs(tf.cast(target, tf.float32) - tf.cast(prediction, tf.float32)))


def cycle_consistency_loss(real, reconstructed):
    """CycleGAN ``||F(G(x)) - x||_1`` per example (weight lambda = 10 in the paper)."""
    return l1_loss(real, reconstructed)


def identity_loss(real, same):
    """CycleGAN ``||G(y) - y||_1`` per example (weight 0.5 * lambda in the paper); keeps colours."""
    return l1_loss(real, same)


# -- DiscoGAN / DualGAN reconstruction distances and DiscoGAN feature matching -------------

def mse_loss(target, prediction):
    """Mean squared error per example (DiscoGAN's default reconstruction distance)."""
    return per_example_mean(tf.square(tf.cast(target, tf.float32) - tf.cast(prediction, tf.float32)))


def cosine_distance(target, prediction):
    """``1 - cos(x, y)`` of each example's flattened images: 0 for the same direction, 2 for opposite."""
    x = tf.reshape(tf.cast(target, tf.float32), [tf.shape(target)[0], -1])
    y = tf.reshape(tf.cast(prediction, tf.float32), [tf.shape(prediction)[0], -1])
    return 1.0 - tf.reduce_sum(tf.math.l2_normalize(x, 1) * tf.math.l2_normalize(y, 1), axis=1)


def hinge_distance(target, prediction, margin=0.05):
    """``mean(max(0, |x - y| - margin))`` per example: an epsilon-insensitive (hinge) L1 that
    ignores errors within ``margin`` (0.05 is about 6 grey levels of 255 on the [-1, 1] scale)."""
    error = tf.abs(tf.cast(target, tf.float32) - tf.cast(prediction, tf.float32))
    return per_example_mean(tf.nn.relu(error - margin))


RECONSTRUCTION_DISTANCES = {"mse": mse_loss, "l1": l1_loss, "cosine": cosine_distance, "hinge": hinge_distance}


def reconstruction_distance(kind):
    """The per-example distance ``(target, prediction) -> (B,)`` named ``"mse" | "l1" | "cosine" | "hinge"``
    (the DiscoGAN paper: any distance such as MSE, cosine distance or hinge loss)."""
    try:
        return RECONSTRUCTION_DISTANCES[kind]
    except KeyError:
        raise ValueError(f"unknown reconstruction distance {kind!r}; choose one of {', '.join(RECONSTRUCTION_DISTANCES)}") from None


def batch_feature_matching_loss(real_features, fake_features):
    """DiscoGAN feature matching: ``sum_i mean((E_batch f_i(real) - E_batch f_i(fake))^2)``.

    Matches the batch mean of each intermediate discriminator activation ``f_i``, as the
    official ``get_fm_loss`` does (its ``HingeEmbeddingLoss`` with target 1 is the plain
    mean of these squared differences). Unlike the other losses here this is a statistic
    of the whole batch, so it returns a scalar, not one value per example; under
    ``tf.distribute`` each replica matches its own batch, and the caller scales the scalar
    with ``tf.nn.scale_regularization_loss``. Real features are constants.
    """
    terms = []
    for real, fake in zip(_as_list(real_features), _as_list(fake_features), strict=True):
        real_mean = tf.reduce_mean(tf.stop_gradient(tf.cast(real, tf.float32)), axis=0)
        fake_mean = tf.reduce_mean(tf.cast(fake, tf.float32), axis=0)
        terms.append(tf.reduce_mean(tf.square(real_mean - fake_mean)))
    return tf.add_n(terms)


def feature_matching_loss(real_features, fake_features):
    """pix2pixHD feature matching (Wang et al., 2018, eq. 4), per example.

    ``sum_k 1/num_D sum_i mean|D_k^(i)(real) - D_k^(i)(fake)|``: for each discriminator k,
    the L1 distance of each intermediate feature map i, averaged over its elements and
    summed over layers, then averaged over discriminators. With the reference's 3-layer
    discriminators this equals the official code's ``4 / (n_layers + 1)`` weighting.
    Real features are treated as constants (no gradient flows into them).

    Args:
        real_features, fake_features: a list of feature maps (one discriminator) or a list
            of such lists (multi-scale); the final logits should not be included.
    """
    real_features = _as_list(real_features)
    fake_features = _as_list(fake_features)
    if real_features and not isinstance(real_features[0], (list, tuple)):
        real_features, fake_features = [real_features], [fake_features]
    if len(real_features) != len(fake_features):
        raise ValueError("real and fake features come from different numbers of discriminators")
    per_discriminator = []
    for real_maps, fake_maps in zip(real_features, fake_features):
        if len(real_maps) != len(fake_maps):
            raise ValueError("real and fake features have different numbers of layers")
        per_discriminator.append(
            tf.add_n([l1_loss(tf.stop_gradient(r), f) for r, f in zip(real_maps, fake_maps)])
        )
    return tf.add_n(per_discriminator) / float(len(per_discriminator))


# InfoGAN's mutual-information terms, per example

def categorical_code_loss(codes, logits):
    """``-log Q(c_cat | x)`` = cross-entropy of the one-hot ``codes`` (B, K) with Q's ``logits``, shape ``(B,)``."""
    logits = tf.cast(logits, tf.float32)
    return -tf.reduce_sum(tf.cast(codes, tf.float32) * tf.nn.log_softmax(logits, axis=-1), axis=-1)


def gaussian_code_loss(codes, mean, log_std=None):
    """``-log Q(c_cont | x)`` for a factored Gaussian, summed over the codes, shape ``(B,)``:
    ``sum_i 0.5 log(2 pi) + log s_i + (c_i - mu_i)^2 / (2 s_i^2)``; ``log_std=None`` means s = 1."""
    codes, mean = tf.cast(codes, tf.float32), tf.cast(mean, tf.float32)
    log_std = tf.zeros_like(mean) if log_std is None else tf.cast(log_std, tf.float32)
    z = (codes - mean) * tf.exp(-log_std)
    return tf.reduce_sum(0.5 * math.log(2.0 * math.pi) + log_std + 0.5 * tf.square(z), axis=-1)


def coupled_weight_decay(variables, weight_decay):
    """``0.5 * wd * sum(w^2)``, whose gradient ``wd * w`` is PyTorch's coupled weight decay;
    scaled for the number of replicas, since every replica adds it and gradients are summed."""
    if not weight_decay:
        return tf.constant(0.0)
    total = tf.add_n([tf.reduce_sum(tf.square(tf.cast(v, tf.float32))) for v in variables])
    return tf.nn.scale_regularization_loss(0.5 * weight_decay * total)


def multiscale_feature_matching_loss(real_outputs, fake_outputs):
    """pix2pixHD's L_FM per example, from the multi-scale D's outputs (logits last per scale).

    ``sum_k sum_i 1/num_D * 4/(n_layers+1) * mean|D_k^(i)(real) - D_k^(i)(fake)|`` over the
    intermediate features i of each scale k (n_layers + 1 of them), real features constant:
    ``feature_matching_loss`` times the reference's ``feat_weights``.
    """
    real_features = [scale[:-1] for scale in real_outputs]
    fake_features = [scale[:-1] for scale in fake_outputs]
    feat_weight = 4.0 / len(real_features[0])
    return feat_weight * feature_matching_loss(real_features, fake_features)


# -- PatchNCE (Park et al., 2020), CUT's contrastive loss ----------------------------------

#: The logit the reference gives a patch compared with itself among the negatives (exp(-10) ~ 0).
NCE_SELF_LOGIT = -10.0


def patch_nce_loss(query, key, temperature=0.07):
    """InfoNCE over patches, per example, shape ``(B,)``: CUT's ``PatchNCELoss`` with negatives
    from the same image (``nce_includes_all_negatives_from_minibatch=False``).

    ``query`` and ``key`` are ``[B, P, C]`` L2-normalised features of the same P locations
    (query from the output, key from the input). For patch i the positive is ``q_i . k_i`` and
    the negatives ``q_i . k_j`` (j != i; the reference puts ``-10`` at j = i); the loss of
    patch i is the cross-entropy of picking the positive among the P + 1 logits divided by
    the temperature tau:

        l_i = -log( exp(q_i.k_i / tau) / (exp(q_i.k_i / tau) + sum_j exp(l_ij / tau)) ),

    averaged over the P patches. The key is a constant (no gradient), as in the reference.
    """
    query = tf.cast(query, tf.float32)
    key = tf.stop_gradient(tf.cast(key, tf.float32))
    positive = tf.reduce_sum(query * key, axis=-1, keepdims=True)  # [B, P, 1]
    negative = tf.matmul(query, key, transpose_b=True)  # [B, P, P]
    patches = tf.shape(negative)[-1]
    negative = tf.where(tf.eye(patches, dtype=tf.bool), NCE_SELF_LOGIT, negative)
    logits = tf.concat([positive, negative], axis=-1) / temperature
    per_patch = tf.reduce_logsumexp(logits, axis=-1) - logits[..., 0]
    return tf.reduce_mean(per_patch, axis=-1)


# -- StackGAN's conditioning augmentation (Zhang et al., 2017) -----------------------------

def conditioning_kl_loss(mu, logvar):
    """``KL(N(mu, diag(exp(logvar))) || N(0, I))`` per example, AVERAGED over the condition
    dimensions: ``mean_j -0.5 (1 + logvar_j - mu_j^2 - exp(logvar_j))``, shape ``(B,)``.

    The batch mean of this vector equals the reference ``KL_loss``, which averages over the
    batch and the dimensions; its weight lambda = 2.0 (``TRAIN.COEFF.KL``) applies to this
    mean. The paper's KL divergence is the sum over dimensions, ``condition_dim`` (128)
    times larger. Computed in float32.
    """
    mu = tf.cast(mu, tf.float32)
    logvar = tf.cast(logvar, tf.float32)
    return tf.reduce_mean(-0.5 * (1.0 + logvar - tf.square(mu) - tf.exp(logvar)), axis=-1)


def matching_aware_discriminator_loss(real_logits, wrong_logits, fake_logits, wrong_weight=0.5, fake_weight=0.5):
    """The GAN-CLS matching-aware discriminator loss of StackGAN (Reed et al., 2016):
    ``BCE(D(x, t), 1) + 0.5 BCE(D(x, t'), 0) + 0.5 BCE(D(G(z, t), t), 0)`` for real images with
    their texts, real images with mismatched texts and fakes with their texts (the weights of
    the reference's ``compute_discriminator_loss``).

    Each term is averaged over its own examples (the mismatched pairs are one fewer than the
    batch: the reference pairs image i with text i+1), so unlike the other losses here it
    returns ``(total, {"d_real", "d_wrong", "d_fake"})`` of scalars, reduced for tf.distribute.
    """
    real = mean_loss(per_example_mean(tf.nn.softplus(-tf.cast(real_logits, tf.float32))))
    wrong = mean_loss(per_example_mean(tf.nn.softplus(tf.cast(wrong_logits, tf.float32))))
    fake = mean_loss(per_example_mean(tf.nn.softplus(tf.cast(fake_logits, tf.float32))))
    total = real + wrong_weight * wrong + fake_weight * fake
    return total, {"d_real": real, "d_wrong": wrong, "d_fake": fake}
