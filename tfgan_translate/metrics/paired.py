"""Per-image metrics for paired data (a translation and its ground truth).

Images are NHWC floats in [-1, 1], the package's convention. PSNR and SSIM are the
values of the same images mapped to [0, 1] (data range 1), the usual convention of
``tf.image`` and scikit-image (SSIM's luminance term depends on the offset, so the
mapping matters; PSNR is the same on both scales with the matching range). L1 is
reported on the [-1, 1] scale, that of pix2pix's ``g_l1`` loss (twice the mean absolute
error in [0, 1] units).

- PSNR (dB) = 10 log10(range^2 / MSE), higher is better; ``tf.image.psnr``.
- SSIM (Wang et al., 2004): 11x11 Gaussian window, sigma 1.5, K1 0.01, K2 0.03, mean over
  the valid window positions and the channels; ``tf.image.ssim``, which matches
  scikit-image's ``structural_similarity(gaussian_weights=True, sigma=1.5,
  use_sample_covariance=False)``. Higher is better, 1 = identical. Images smaller than
  11 px are not accepted by ``tf.image.ssim``.
- L1 = mean absolute difference, lower is better.
"""

import tensorflow as tf

#: Peak-to-peak value range of images in [-1, 1].
DATA_RANGE = 2.0


def _pair(x, y):
    x, y = tf.convert_to_tensor(x, tf.float32), tf.convert_to_tensor(y, tf.float32)
    if x.shape.rank != 4 or x.shape != y.shape:
        raise ValueError(f"expected two image batches of the same NHWC shape, got {x.shape} and {y.shape}")
    return x, y


def psnr(x, y):
    """Per-image PSNR in dB of ``[N, H, W, C]`` images in [-1, 1]; shape ``[N]``.

    Identical images give ``inf``.

    Example:
        >>> float(psnr(tf.zeros((1, 8, 8, 3)), tf.fill((1, 8, 8, 3), 0.2))[0])  # 10 log10(4 / 0.04)
        20.0
    """
    x, y = _pair(x, y)
    return tf.image.psnr(x, y, max_val=DATA_RANGE)


def ssim(x, y):
    """Per-image SSIM of ``[N, H, W, C]`` images in [-1, 1] (at least 11 x 11 px); shape ``[N]``."""
    x, y = _pair(x, y)
    if min(x.shape[1], x.shape[2]) < 11:
        raise ValueError(f"SSIM needs images of at least 11 x 11 px (its Gaussian window); got {x.shape[1]} x {x.shape[2]}")
    x, y = (x + 1.0) / 2.0, (y + 1.0) / 2.0  # SSIM is defined on [0, 1] images here (see the module docstring)
    return tf.image.ssim(x, y, max_val=1.0, filter_size=11, filter_sigma=1.5, k1=0.01, k2=0.03)


def l1(x, y):
    """Per-image mean absolute difference of images in [-1, 1]; shape ``[N]``."""
    x, y = _pair(x, y)
    return tf.reduce_mean(tf.abs(x - y), axis=[1, 2, 3])


PAIRED_METRICS = {"psnr": psnr, "ssim": ssim, "l1": l1}
