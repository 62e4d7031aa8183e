"""Distances between two sets of image features: Frechet (FID) and kernel (KID).

FID (Heusel et al., 2017) fits a Gaussian to each feature set and returns the Frechet
(2-Wasserstein) distance between them:

    d^2 = ||mu1 - mu2||^2 + Tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^(1/2)).

Tr((sigma1 sigma2)^(1/2)) is computed as Tr((r^T sigma2 r)^(1/2)) with r r^T = sigma1
(Cholesky factor, or the symmetric square root when sigma1 is singular): the two matrices
are similar, so their eigenvalues (and traces of square roots) agree, and r^T sigma2 r is
symmetric positive semi-definite, so a symmetric eigendecomposition in float64 gives it
without the complex round-off and the singular-matrix failures of a general ``sqrtm``
(covariances of fewer images than feature dimensions are singular).

KID (Binkowski et al., 2018) is the squared maximum mean discrepancy with the cubic
polynomial kernel k(x, y) = (x.y / d + 1)^3, estimated without bias:

    MMD_u^2 = sum_{i!=j} k(x_i, x_j) / (m (m-1)) + sum_{i!=j} k(y_i, y_j) / (n (n-1))
              - 2 sum_{i,j} k(x_i, y_j) / (m n),

averaged over random subsets (the standard scheme: 100 subsets of 1000 features drawn
without replacement from each set, the size capped by the smaller set); the mean and
standard deviation over subsets are reported. Unlike FID, its expectation does not depend
on the number of images, so small evaluation sets compare fairly.
"""

import numpy as np

KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000


def _vector(x, name):
    x = np.asarray(x, np.float64)
    if x.ndim != 1:
        raise ValueError(f"{name} must be a vector, got shape {x.shape}")
    return x


def _square(x, name, dim):
    x = np.asarray(x, np.float64)
    if x.shape != (dim, dim):
        raise ValueError(f"{name} must be a {dim} x {dim} covariance matrix, got shape {x.shape}")
    return x


def psd_sqrt(matrix):
    """Symmetric square root of a symmetric positive semi-definite matrix (eigenvalues
    below zero, from round-off, are clipped)."""
    matrix = np.asarray(matrix, np.float64)
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def trace_sqrt_product(sigma1, sigma2):
    """Tr((sigma1 sigma2)^(1/2)) for covariance matrices.

    sigma1 sigma2 is similar to the symmetric PSD matrix r^T sigma2 r for any r with
    r r^T = sigma1, so the trace is the sum of square roots of that matrix's eigenvalues.
    r is the Cholesky factor when sigma1 is positive definite (cheap), else its symmetric
    square root (an eigendecomposition, exact for singular covariances too).
    """
    sigma1, sigma2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    try:
        root = np.linalg.cholesky(sigma1)
    except np.linalg.LinAlgError:  # singular (fewer images than dimensions): exact, slower
        root = psd_sqrt(sigma1)
    middle = root.T @ sigma2 @ root
    values = np.linalg.eigvalsh((middle + middle.T) / 2)
    return float(np.sqrt(np.clip(values, 0, None)).sum())


def frechet_distance(mu1, sigma1, mu2, sigma2):
    """Frechet distance between Gaussians N(mu1, sigma1) and N(mu2, sigma2) (the FID formula).

    Example:
        >>> import numpy as np
        >>> frechet_distance(np.zeros(2), np.eye(2), np.ones(2), 4 * np.eye(2))  # 2 + 2 (1 + 4 - 2 * 2)
        4.0
    """
    mu1, mu2 = _vector(mu1, "mu1"), _vector(mu2, "mu2")
    if mu1.shape != mu2.shape:
        raise ValueError(f"mu1 and mu2 differ in dimension: {mu1.shape[0]} and {mu2.shape[0]}")
    sigma1, sigma2 = _square(sigma1, "sigma1", mu1.shape[0]), _square(sigma2, "sigma2", mu1.shape[0])
    diff = mu1 - mu2
    value = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_sqrt_product(sigma1, sigma2)
    return float(max(value, 0.0))  # a true distance is >= 0; tiny negatives are round-off


def polynomial_kernel(x, y):
    """k(x, y) = (x.y / d + 1)^3 for all rows of ``x`` against all rows of ``y``, float64."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def mmd2_unbiased(x, y, kernel=polynomial_kernel):
    """Unbiased estimate of the squared MMD between the samples ``x`` [m, d] and ``y`` [n, d]
    (m, n >= 2): the diagonals k(x_i, x_i), k(y_j, y_j) are left out of the within-set means."""
    m, n = len(x), len(y)
    if m < 2 or n < 2:
        raise ValueError(f"the unbiased MMD needs at least 2 samples per set, got {m} and {n}")
    k_xx, k_yy, k_xy = kernel(x, x), kernel(y, y), kernel(x, y)
    within_x = (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
    within_y = (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
    return float(within_x + within_y - 2.0 * k_xy.mean())


def kernel_inception_distance(features1, features2, num_subsets=KID_SUBSETS, subset_size=KID_SUBSET_SIZE, seed=0):
    """KID between two feature sets: ``(mean, std)`` of the unbiased MMD^2 over random subsets.

    Args:
        features1, features2: ``[n1, d]`` and ``[n2, d]`` feature arrays (e.g. Inception pool features).
        num_subsets: number of subsets (standard 100).
        subset_size: features per subset, drawn without replacement from each set (standard
            1000); capped by ``min(n1, n2)``.
        seed: seed of the subset draws, so a report is reproducible.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> mean, std = kernel_inception_distance(rng.normal(size=(50, 8)), rng.normal(size=(60, 8)))
    """
    features1, features2 = np.asarray(features1), np.asarray(features2)
    if features1.ndim != 2 or features2.ndim != 2 or features1.shape[1] != features2.shape[1]:
        raise ValueError(f"expected two [n, d] feature arrays of the same d, got {features1.shape} and {features2.shape}")
    if num_subsets < 1 or subset_size < 2:
        raise ValueError(f"num_subsets must be >= 1 and subset_size >= 2, got {num_subsets} and {subset_size}")
    size = min(subset_size, len(features1), len(features2))
    if size < 2:
        raise ValueError(f"KID needs at least 2 images per set, got {len(features1)} and {len(features2)}")
    rng = np.random.default_rng(seed)
    values = [
        mmd2_unbiased(features1[rng.choice(len(features1), size, replace=False)],
                      features2[rng.choice(len(features2), size, replace=False)])
        for _ in range(num_subsets)
    ]
    return float(np.mean(values)), float(np.std(values))
