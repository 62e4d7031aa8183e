"""Offline demo datasets built from scikit-image photos."""

import time

import numpy as np
import pytest

from tfgan_translate import data
from tfgan_translate.data.demo import colour_map

pytest.importorskip("skimage")

# Mean per-image PSNR of the identity guess (a vs its true mapped image) on the default
# demo_unpaired test split: what a CycleGAN that learned nothing scores. Pinned so that
# changing the photos, crops or mapping is a deliberate act.
IDENTITY_PSNR_DB = 13.07


def _one_batch(ds):
    return {k: v.numpy() for k, v in next(iter(ds)).items()}


def test_unpaired_test_split_pins_the_identity_psnr():
    start = time.perf_counter()
    batch = _one_batch(data.demo_unpaired("test", batch_size=100))
    assert time.perf_counter() - start < 20
    assert batch["a"].shape == batch["b_true"].shape == (100, 64, 64, 3)
    per_image = data.psnr(batch["a"], batch["b_true"]).numpy()
    identity = float(per_image.mean())
    assert identity == pytest.approx(IDENTITY_PSNR_DB, abs=0.2)
    assert identity <= 20.0 and per_image.max() < 18.0  # no crop is nearly unchanged
    # b_true is exactly the hidden mapping of a: a perfect translation scores +inf.
    a, truth = data.to_uint8(batch["a"]).numpy(), data.to_uint8(batch["b_true"]).numpy()
    np.testing.assert_array_equal(truth, colour_map(a))


def test_unpaired_train_split_is_unpaired_and_jittered():
    ds = data.demo_unpaired("train", batch_size=16, seed=0)
    batch = _one_batch(ds)
    assert batch["a"].shape == batch["b"].shape == (16, 64, 64, 3)
    assert batch["a"].dtype == np.float32
    assert -1 <= batch["a"].min() and batch["b"].max() <= 1
    assert ds.cardinality() == 400 // 16
    # B went through the lifting mapping: its channels never reach the darkest values.
    assert data.to_uint8(batch["b"]).numpy().reshape(-1, 3).min(axis=0).tolist() >= [20, 10, 60]


def test_unpaired_direction_and_image_size():
    batch = _one_batch(data.demo_unpaired("test", "BtoA", num_examples=8, image_size=32,
                                          batch_size=8))
    assert batch["a"].shape == (8, 32, 32, 3)
    a, truth = data.to_uint8(batch["a"]).numpy(), data.to_uint8(batch["b_true"]).numpy()
    np.testing.assert_array_equal(a, colour_map(truth))  # BtoA: a is the mapped image


def test_paired_edges2photo():
    batch = _one_batch(data.demo_paired("edges2photo", batch_size=8, seed=0))
    assert batch["a"].shape == batch["b"].shape == (8, 64, 64, 3)
    edges = data.to_uint8(batch["a"]).numpy()
    mostly_white = (edges > 200).mean()
    assert 0.6 < mostly_white < 0.999  # dark lines on white, some of them
    assert (edges[..., 0] == edges[..., 2]).all()


def test_paired_gray2color_test_split_is_exactly_the_luma():
    batch = _one_batch(data.demo_paired("gray2color", "test", batch_size=4))
    gray, colour = data.to_uint8(batch["a"]).numpy(), data.to_uint8(batch["b"]).numpy()
    assert (gray[..., 0] == gray[..., 1]).all()
    luma = colour.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    assert np.abs(gray[..., 0] - luma).max() <= 1.0


def test_train_and_test_crops_differ_and_builds_are_repeatable():
    kw = dict(num_examples=16, batch_size=16)
    train = _one_batch(data.demo_paired("gray2color", "train", training=False, **kw))
    test = _one_batch(data.demo_paired("gray2color", "test", **kw))
    again = _one_batch(data.demo_paired("gray2color", "test", **kw))
    np.testing.assert_array_equal(test["b"], again["b"])
    assert not np.isin(test["b"][:, 0, 0, 0], train["b"][:, 0, 0, 0]).all()


def test_unknown_task_is_refused():
    with pytest.raises(ValueError, match="edges2photo"):
        data.demo_paired("sketch2cat")


def test_rebuilding_for_a_new_epoch_reuses_the_crops():
    data.demo_paired("edges2photo", num_examples=32)
    start = time.perf_counter()
    ds = data.demo_paired("edges2photo", num_examples=32, seed=1)
    assert time.perf_counter() - start < 0.5
    assert ds.cardinality() == 32
