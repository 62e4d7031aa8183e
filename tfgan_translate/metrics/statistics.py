"""Streaming summaries of feature sets, so that memory does not grow with the number of images.

- :class:`RunningStatistics`: count, mean and covariance (what FID needs) in float64,
  merged batch by batch; memory is O(d^2) whatever the number of images.
- :class:`FeatureReservoir`: a uniform random sample of at most ``capacity`` feature
  vectors (what KID's subsets are drawn from); exact (all features kept) up to capacity.
  A reservoir is a uniform sample without replacement of everything seen, so KID subsets
  drawn from it are distributed as subsets drawn from all features.
- :class:`FeatureSummary`: both, fed together.
"""

import numpy as np

from .distances import frechet_distance, kernel_inception_distance

#: Features KID keeps per image set: 10,000 x 2048 float32 = 82 MB; enough for the standard
#: 100 subsets of 1000 to be drawn from exactly the whole set on typical test splits.
DEFAULT_KID_CAPACITY = 10_000


class RunningStatistics:
    """Mean and covariance of feature vectors seen in batches, in float64.

    Each batch is reduced to its own mean and centred scatter matrix and merged with the
    running ones (Chan et al.'s pairwise update), which keeps the float64 sums free of the
    cancellation that a raw sum of outer products minus n mu mu^T suffers when the mean is
    large next to the spread.

    Example:
        >>> stats = RunningStatistics()
        >>> for batch in np.split(np.random.default_rng(0).normal(size=(10, 3)), 5):
        ...     stats.update(batch)
        >>> stats.count, stats.mean.shape, stats.covariance().shape
        (10, (3,), (3, 3))
    """

    def __init__(self):
        self.count = 0
        self.mean = None
        self._scatter = None  # sum of (x - mean)(x - mean)^T

    def update(self, features):
        """Add a ``[batch, d]`` array of feature vectors."""
        x = np.asarray(features, np.float64)
        if x.ndim != 2:
            raise ValueError(f"features must be [batch, d], got shape {x.shape}")
        if len(x) == 0:
            return self
        if self.mean is not None and x.shape[1] != self.mean.shape[0]:
            raise ValueError(f"features of dimension {x.shape[1]} cannot join statistics of dimension {self.mean.shape[0]}")
        batch_mean = x.mean(axis=0)
        centred = x - batch_mean
        batch_scatter = centred.T @ centred
        if self.mean is None:
            self.count, self.mean, self._scatter = len(x), batch_mean, batch_scatter
            return self
        total = self.count + len(x)
        delta = batch_mean - self.mean
        self._scatter = self._scatter + batch_scatter + np.outer(delta, delta) * (self.count * len(x) / total)
        self.mean = self.mean + delta * (len(x) / total)
        self.count = total
        return self

    def covariance(self):
        """Sample covariance (divided by n - 1, like ``np.cov``)."""
        if self.count < 2:
            raise ValueError(f"a covariance needs at least 2 feature vectors, got {self.count}")
        return self._scatter / (self.count - 1)


class FeatureReservoir:
    """A uniform sample of at most ``capacity`` feature vectors (reservoir sampling, Algorithm R)."""

    def __init__(self, capacity=DEFAULT_KID_CAPACITY, seed=0):
        if capacity < 2:
            raise ValueError(f"capacity must be >= 2, got {capacity}")
        self.capacity = capacity
        self.seen = 0
        self._rng = np.random.default_rng(seed)
        self._chunks = []  # batches while below capacity (no copy of a full buffer per batch)
        self._buffer = None

    def update(self, features):
        x = np.asarray(features, np.float32)
        if self._buffer is None:
            room = self.capacity - self.seen
            self._chunks.append(x[:room])
            self.seen += len(x[:room])
            x = x[room:]
            if self.seen < self.capacity:
                return self
            self._buffer = np.concatenate(self._chunks)
            self._chunks = []
        for row in x:  # beyond capacity: item number t replaces a random slot with probability capacity / t
            self.seen += 1
            slot = self._rng.integers(self.seen)
            if slot < self.capacity:
                self._buffer[slot] = row
        return self

    @property
    def features(self):
        if self._buffer is not None:
            return self._buffer
        return np.concatenate(self._chunks) if self._chunks else np.zeros((0, 0), np.float32)


class FeatureSummary:
    """What FID and KID need of one image set: running statistics and a KID reservoir."""

    def __init__(self, kid_capacity=DEFAULT_KID_CAPACITY, seed=0):
        self.statistics = RunningStatistics()
        self.reservoir = FeatureReservoir(kid_capacity, seed)

    @property
    def count(self):
        return self.statistics.count

    def update(self, features):
        self.statistics.update(features)
        self.reservoir.update(features)
        return self

    def fid(self, other):
        """FID between this set and ``other`` (both need at least 2 images)."""
        a, b = self.statistics, other.statistics
        return frechet_distance(a.mean, a.covariance(), b.mean, b.covariance())

    def kid(self, other, **options):
        """``(mean, std)`` KID between this set and ``other``; options of :func:`kernel_inception_distance`."""
        return kernel_inception_distance(self.reservoir.features, other.reservoir.features, **options)
