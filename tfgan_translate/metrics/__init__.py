"""Evaluation metrics: PSNR, SSIM and L1 for paired data; FID and KID on Inception features.

Paired metrics are per-image functions of two ``[N, H, W, C]`` batches in [-1, 1]
(:mod:`.paired`). FID and KID compare two *sets* of images through 2048-d pool features:
by default those of the FID Inception network with the published weights
(:class:`FIDInceptionFeatures`, what published FIDs use), or Keras' InceptionV3
(:class:`InceptionFeatures`), each with the ``legacy`` or ``clean`` resize (:mod:`.features`).
Features are computed in batches and folded into streaming summaries
(:class:`FeatureSummary`: float64 running mean/covariance for FID, a bounded reservoir
for KID), so memory does not grow with the number of images. Any callable
``images -> [N, d] features`` can stand in for them.

Example:
    >>> from tfgan_translate import metrics
    >>> real, fake = metrics.FeatureSummary(), metrics.FeatureSummary()
    >>> features = metrics.FIDInceptionFeatures("pt_inception-2015-12-05-6726825d.pth")
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
from .features import (
    NETWORKS,
    RESIZE_MODES,
    FIDInceptionFeatures,
    InceptionFeatures,
    PoolFeatures,
    feature_network,
    preprocess,
)
from .fid_inception import FEATURE_DIM, build_fid_inception
from .fid_weights import FIDWeightsError, convert_fid_weights, load_fid_weights
from .inception import HOW_TO_GET_WEIGHTS, INCEPTION_SIZE, InceptionWeightsError, build_inception
from .paired import PAIRED_METRICS, l1, psnr, ssim
from .statistics import DEFAULT_KID_CAPACITY, FeatureReservoir, FeatureSummary, RunningStatistics

#: Metrics that compare image sets through Inception features.
DISTRIBUTION_METRICS = ("fid", "kid")
ALL_METRICS = (*PAIRED_METRICS, *DISTRIBUTION_METRICS)
#: Which way each metric improves (what "best" means in a run's history).
HIGHER_IS_BETTER = {"psnr": True, "ssim": True, "l1": False, "fid": False, "kid": False}

__all__ = [
    "ALL_METRICS", "DEFAULT_KID_CAPACITY", "HIGHER_IS_BETTER", "DISTRIBUTION_METRICS", "FEATURE_DIM", "HOW_TO_GET_WEIGHTS",
    "INCEPTION_SIZE", "KID_SUBSETS", "KID_SUBSET_SIZE", "NETWORKS", "PAIRED_METRICS", "RESIZE_MODES",
    "FIDInceptionFeatures", "FIDWeightsError", "FeatureReservoir", "FeatureSummary", "InceptionFeatures",
    "InceptionWeightsError", "PoolFeatures", "RunningStatistics", "build_fid_inception", "build_inception",
    "convert_fid_weights", "feature_network", "frechet_distance", "kernel_inception_distance", "l1",
    "load_fid_weights", "mmd2_unbiased", "polynomial_kernel", "preprocess", "psd_sqrt", "psnr", "ssim",
    "trace_sqrt_product",
]
