"""Evaluation metrics: PSNR, SSIM and L1 for paired data; FID and KID on Inception-v3 features.

Paired metrics are per-image functions of two ``[N, H, W, C]`` batches in [-1, 1]
(:mod:`.paired`). FID and KID compare two *sets* of images through their Inception-v3
pool features: features are computed in batches and folded into streaming summaries
(:class:`FeatureSummary`: float64 running mean/covariance for FID, a bounded reservoir
for KID), so memory does not grow with the number of images. Any callable
``images -> [N, d] features`` can stand in for :class:`InceptionFeatures`.

Example:
    >>> from tfgan_translate import metrics
    >>> real, fake = metrics.FeatureSummary(), metrics.FeatureSummary()
    >>> features = metrics.InceptionFeatures("path/to/inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5")
    >>> for batch in batches:
    ...     real.update(features(batch["b"])); fake.update(features(generator(batch["a"], training=False)))
    >>> fid = fake.fid(real); kid_mean, kid_std = fake.kid(real)
"""

from .distances import (
    KID_SUBSET_SIZE,
    KID_SUBSETS,
    frechet_distance,
    kernel_inception_distance,
    mmd2_unbiased,
    polynomial_kernel,
    psd_sqrt,
    trace_sqrt_product,
)
from .inception import (
    FEATURE_DIM,
    HOW_TO_GET_WEIGHTS,
    INCEPTION_SIZE,
    InceptionFeatures,
    InceptionWeightsError,
    build_inception,
    preprocess,
)
from .paired import PAIRED_METRICS, l1, psnr, ssim
from .statistics import DEFAULT_KID_CAPACITY, FeatureReservoir, FeatureSummary, RunningStatistics

#: Metrics that compare image sets through Inception features.
DISTRIBUTION_METRICS = ("fid", "kid")
ALL_METRICS = (*PAIRED_METRICS, *DISTRIBUTION_METRICS)

__all__ = [
    "ALL_METRICS", "DEFAULT_KID_CAPACITY", "DISTRIBUTION_METRICS", "FEATURE_DIM", "HOW_TO_GET_WEIGHTS",
    "INCEPTION_SIZE", "KID_SUBSETS", "KID_SUBSET_SIZE", "PAIRED_METRICS",
    "FeatureReservoir", "FeatureSummary", "InceptionFeatures", "InceptionWeightsError", "RunningStatistics",
    "build_inception", "frechet_distance", "kernel_inception_distance", "l1", "mmd2_unbiased",
    "polynomial_kernel", "preprocess", "psd_sqrt", "psnr", "ssim", "trace_sqrt_product",
]
