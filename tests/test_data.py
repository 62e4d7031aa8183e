"""Pipelines of tfgan_translate.data: options, preprocessing, aligned pairs, unaligned zips."""

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tfgan_translate import data
from tfgan_translate.data.options import make_options

PERSON2CONTOUR = Path(__file__).resolve().parents[2] / "shared" / "data" / "person2contour"
needs_person2contour = pytest.mark.skipif(
    not (PERSON2CONTOUR / "train").is_dir(), reason="../shared/data/person2contour is absent")


def _save(path, array):
    Image.fromarray(np.asarray(array, np.uint8)).save(path)
    return path


def _pattern(height, width):
    """RGB pattern whose every pixel is different and which is not mirror-symmetric."""
    y, x = np.mgrid[:height, :width]
    return np.stack([x * 255 // (width - 1), y * 255 // (height - 1), (3 * x + 7 * y) % 256], -1)


def _batches(ds):
    return [{k: v.numpy() for k, v in b.items()} for b in ds]


# ---------------------------------------------------------------- options


def test_image_size_is_crop_size_alias_and_load_size_keeps_286_over_256():
    assert make_options({}).crop_size == 256 and make_options({}).load_size == 286
    o = make_options({"image_size": 64})
    assert (o.crop_size, o.load_size) == (64, 72)
    assert make_options({"crop_size": 32, "load_size": 40}).load_size == 40
    assert make_options({}, default_crop_size=64).load_size == 72


def test_training_sets_shuffle_and_drop_remainder_defaults():
    train, infer = make_options({}), make_options({"training": False})
    assert train.shuffle and train.drop_remainder
    assert not infer.shuffle and not infer.drop_remainder
    assert make_options({"deterministic": True}).seed == 0
    assert not train.deterministic and infer.deterministic  # eval keeps the file order


@pytest.mark.parametrize("kwargs, error, match", [
    ({"image_size": 64, "crop_size": 32}, ValueError, "alias"),
    ({"imagesize": 64}, TypeError, "unknown data option"),
    ({"preprocess": "zoom"}, ValueError, "unknown preprocess mode"),
    ({"crop_size": 64, "load_size": 32}, ValueError, "smaller than crop_size"),
    ({"channels": 0}, ValueError, "channels"),
    ({"batch_size": 0}, ValueError, "batch_size"),
])
def test_bad_options_are_refused_clearly(kwargs, error, match):
    with pytest.raises(error, match=match):
        make_options(kwargs)


# ---------------------------------------------------------------- preprocessing


def test_normalize_and_back():
    pixels = tf.constant([[0, 127, 128, 255]], tf.uint8)
    x = data.normalize(pixels)
    assert x.dtype == tf.float32
    np.testing.assert_allclose(x.numpy(), [[-1.0, 127 / 127.5 - 1, 128 / 127.5 - 1, 1.0]],
                               atol=1e-6)
    np.testing.assert_array_equal(data.to_uint8(x).numpy(), pixels.numpy())
    np.testing.assert_allclose(data.denormalize(tf.constant([-1.0, 0.0, 1.0, 3.0])).numpy(),
                               [0.0, 0.5, 1.0, 1.0])


@pytest.mark.parametrize("mode, training, expected_hw", [
    ("resize_and_crop", True, (32, 32)),
    ("resize_and_crop", False, (32, 32)),
    ("scale_width", True, (42, 64)),             # width -> load_size, 60x90 aspect kept
    ("scale_width", False, (32, 32)),            # eval: load_size = crop_size; height >= 32
    ("scale_width_and_crop", True, (32, 32)),
    ("crop", True, (32, 32)),
    ("crop", False, (32, 32)),
    ("none", True, (60, 88)),                    # 60x90 -> nearest multiples of 4
])
def test_preprocess_modes_on_a_non_square_single_image(tmp_path, mode, training, expected_hw):
    _save(tmp_path / "x.png", _pattern(60, 90))
    ds = data.single_folder(tmp_path, crop_size=32, load_size=64, preprocess=mode,
                            training=training, seed=0)
    (batch,) = _batches(ds)
    assert batch["a"].shape == (1, *expected_hw, 3)
    assert batch["a"].dtype == np.float32 and -1 <= batch["a"].min() <= batch["a"].max() <= 1


def test_eval_mode_is_a_plain_resize_to_crop_size(tmp_path):
    image = _pattern(60, 90).astype(np.uint8)
    _save(tmp_path / "x.png", image)
    (batch,) = _batches(data.single_folder(tmp_path, crop_size=32, training=False))
    expected = tf.image.resize(image.astype(np.float32), (32, 32), antialias=True) / 127.5 - 1
    np.testing.assert_allclose(batch["a"][0], expected.numpy(), atol=1e-5)


def test_crop_mode_enlarges_an_image_smaller_than_the_crop(tmp_path):
    _save(tmp_path / "small.png", _pattern(20, 30))
    (batch,) = _batches(data.single_folder(tmp_path, crop_size=32, preprocess="crop"))
    assert batch["a"].shape == (1, 32, 32, 3)


def test_single_folder_keeps_paths_in_sorted_order_and_grayscale_option(tmp_path):
    for name in ("b.png", "a.jpg", "c.bmp"):
        _save(tmp_path / name, _pattern(40, 50))
    batches = _batches(data.single_folder(tmp_path, crop_size=16, batch_size=2, channels=1))
    assert [b["a"].shape for b in batches] == [(2, 16, 16, 1), (1, 16, 16, 1)]
    paths = [Path(p.decode()).name for b in batches for p in b["path"]]
    assert paths == ["a.jpg", "b.png", "c.bmp"]


# ---------------------------------------------------------------- aligned (pix2pix)


def _write_ab_pairs(folder, count, height=48, width=64):
    """AB files whose B half is the photographic negative of the A half."""
    folder.mkdir(exist_ok=True)
    for i in range(count):
        a = np.roll(_pattern(height, width), 5 * i, axis=1)
        _save(folder / f"{i}.png", np.concatenate([a, 255 - a], axis=1))
    return folder


def test_aligned_pairs_get_the_same_crop_and_flip(tmp_path):
    folder = _write_ab_pairs(tmp_path / "ab", 4)
    ds = data.aligned_folder(folder, crop_size=32, load_size=40, batch_size=4, seed=5,
                             repeat=True)
    a, b = [], []
    for batch in ds.take(8):
        a.append(batch["a"].numpy())
        b.append(batch["b"].numpy())
    a, b = np.concatenate(a), np.concatenate(b)
    assert ds.cardinality() == tf.data.INFINITE_CARDINALITY
    assert a.shape == (32, 32, 32, 3)
    # B = 255 - A before jitter, so b == -a after it exactly when both halves got the same
    # crop offset and the same mirror (the pattern differs at every pixel).
    np.testing.assert_allclose(b, -a, atol=1e-4)
    # ...and the jitter really varied: both mirror orientations and several crop offsets.
    red_rises = a[:, 0, -1, 0] > a[:, 0, 0, 0]
    assert red_rises.any() and not red_rises.all()
    assert len(np.unique(np.round(a[:, 0, 0, 1], 3))) > 2


def test_aligned_direction_swaps_halves(tmp_path):
    folder = _write_ab_pairs(tmp_path / "ab", 1)
    kw = dict(crop_size=32, training=False)
    (ab,) = _batches(data.aligned_folder(folder, "AtoB", **kw))
    (ba,) = _batches(data.aligned_folder(folder, "BtoA", **kw))
    np.testing.assert_array_equal(ab["a"], ba["b"])
    np.testing.assert_array_equal(ab["b"], ba["a"])
    assert ab["a"][0, 0, 0, 0] < 0 < ab["b"][0, 0, 0, 0]  # A starts dark, B = negative


@needs_person2contour
def test_person2contour_halves_come_from_the_same_file():
    files = sorted((PERSON2CONTOUR / "train").glob("*.jpg"))
    ds = data.aligned_folder(PERSON2CONTOUR / "train", "BtoA", crop_size=128,
                             preprocess="crop", training=False, batch_size=3)
    batch = next(iter(ds))
    for i, path in enumerate(files[:3]):  # no shuffle: the sorted order
        ab = np.asarray(Image.open(path).convert("RGB"), np.float32)
        h, w = ab.shape[:2]
        top, left = (h - 128) // 2, (w // 2 - 128) // 2
        photo = ab[top:top + 128, left:left + 128]
        contour = ab[top:top + 128, w // 2 + left:w // 2 + left + 128]
        np.testing.assert_allclose(batch["a"][i], contour / 127.5 - 1, atol=3 / 127.5)
        np.testing.assert_allclose(batch["b"][i], photo / 127.5 - 1, atol=3 / 127.5)


@needs_person2contour
def test_person2contour_pipeline_jitters_both_halves_alike(tmp_path):
    out = tmp_path / "pairs"
    out.mkdir()
    for path in sorted((PERSON2CONTOUR / "train").glob("*.jpg"))[:6]:
        ab = np.asarray(Image.open(path).convert("RGB"))
        photo = ab[:, : ab.shape[1] // 2]
        _save(out / f"{path.stem}.png", np.concatenate([photo, 255 - photo], axis=1))
    ds = data.aligned_folder(out, crop_size=64, batch_size=3, seed=1)
    batches = _batches(ds)
    assert [b["a"].shape for b in batches] == [(3, 64, 64, 3)] * 2
    for b in batches:
        np.testing.assert_allclose(b["b"], -b["a"], atol=1e-4)


@needs_person2contour
def test_person2contour_full_size_batches():
    ds = data.aligned_folder(PERSON2CONTOUR / "train", batch_size=8, seed=0)
    batch = next(iter(ds))
    assert batch["a"].shape == batch["b"].shape == (8, 256, 256, 3)
    assert batch["a"].dtype == tf.float32
    assert -1 <= float(tf.reduce_min(batch["a"])) and float(tf.reduce_max(batch["b"])) <= 1


# ---------------------------------------------------------------- unaligned (CycleGAN)


def _unaligned_root(root, n_a, n_b, split="train"):
    for domain, n, value in (("A", n_a, 0), ("B", n_b, 100)):
        folder = root / f"{split}{domain}"
        folder.mkdir(parents=True)
        for i in range(n):  # each image is one flat colour that names it
            _save(folder / f"{i}.png", np.full((20, 30, 3), value + 10 * i))
    return root


def _ids(images):
    return sorted(int(round((float(x[0, 0, 0]) + 1) * 127.5)) for x in images)


def test_unaligned_epoch_is_the_larger_domain_and_cycles_the_smaller(tmp_path):
    root = _unaligned_root(tmp_path, n_a=3, n_b=5)
    ds = data.unaligned_folder(root, crop_size=16, batch_size=1, seed=2)
    batches = _batches(ds)
    assert len(batches) == 5 and ds.cardinality() == 5  # known up front, for steps/epoch
    assert all(b["a"].shape == b["b"].shape == (1, 16, 16, 3) for b in batches)
    b_ids = _ids(b["b"][0] for b in batches)
    a_ids = _ids(b["a"][0] for b in batches)
    assert b_ids == [100, 110, 120, 130, 140]  # every B image exactly once
    assert set(a_ids) == {0, 10, 20}  # every A image at least once


def test_unaligned_direction_and_test_split(tmp_path):
    _unaligned_root(tmp_path, 2, 2, "test")
    ds = data.unaligned_folder(tmp_path, "test", "BtoA", crop_size=16)
    batches = _batches(ds)
    assert _ids(b["a"][0] for b in batches) == [100, 110]  # a comes from testB
    assert _ids(b["b"][0] for b in batches) == [0, 10]
    again = _batches(data.unaligned_folder(tmp_path, "test", "BtoA", crop_size=16))
    for x, y in zip(batches, again):  # test split: no shuffle, no jitter
        np.testing.assert_array_equal(x["a"], y["a"])


def test_unaligned_missing_domain_folder_is_named(tmp_path):
    (tmp_path / "trainA").mkdir()
    _save(tmp_path / "trainA" / "x.png", _pattern(8, 8))
    with pytest.raises(data.FolderLayoutError, match=r"trainB.*CycleGAN layout"):
        data.unaligned_folder(tmp_path)
    with pytest.raises(data.FolderLayoutError, match="does not exist"):
        data.unaligned_folder(tmp_path / "nowhere")


# ---------------------------------------------------------------- speed and order options


def test_deterministic_seeded_pipelines_repeat_exactly(tmp_path):
    folder = _write_ab_pairs(tmp_path / "ab", 6)
    kw = dict(crop_size=16, load_size=24, batch_size=2, seed=11, deterministic=True)
    assert data.aligned_folder(folder, **kw).cardinality() == 3
    first = _batches(data.aligned_folder(folder, **kw))
    second = _batches(data.aligned_folder(folder, **kw))
    other = _batches(data.aligned_folder(folder, **{**kw, "seed": 12}))
    for x, y in zip(first, second):
        np.testing.assert_array_equal(x["a"], y["a"])
    assert any(not np.array_equal(x["a"], y["a"]) for x, y in zip(first, other))


def test_cache_keeps_jitter_fresh_each_epoch(tmp_path):
    folder = _write_ab_pairs(tmp_path / "ab", 2)
    ds = data.aligned_folder(folder, crop_size=16, load_size=32, batch_size=2, seed=3,
                             cache=True, deterministic=True)
    epoch1, epoch2 = _batches(ds), _batches(ds)
    assert epoch1[0]["a"].shape == (2, 16, 16, 3)
    assert not np.array_equal(epoch1[0]["a"], epoch2[0]["a"])
    np.testing.assert_allclose(epoch2[0]["b"], -epoch2[0]["a"], atol=1e-4)


def test_file_cache_keeps_the_two_domains_apart(tmp_path):
    root = _unaligned_root(tmp_path / "data", n_a=2, n_b=3)
    cache = tmp_path / "cache"
    ds = data.unaligned_folder(root, crop_size=16, cache=str(cache), seed=0)
    for _ in range(2):  # the second epoch reads the cache files
        batches = _batches(ds)
        assert _ids(b["b"][0] for b in batches) == [100, 110, 120]
        assert set(_ids(b["a"][0] for b in batches)) == {0, 10}
    names = {p.name.split(".")[0] for p in tmp_path.iterdir() if p.name.startswith("cache")}
    assert names == {"cache-trainA", "cache-trainB"}


def test_too_few_examples_for_a_full_batch_is_an_error(tmp_path):
    folder = _write_ab_pairs(tmp_path / "ab", 2)
    with pytest.raises(ValueError, match="dataset would be empty"):
        data.aligned_folder(folder, crop_size=16, batch_size=4)
    assert len(_batches(data.aligned_folder(folder, crop_size=16, batch_size=4,
                                            drop_remainder=False))) == 1
