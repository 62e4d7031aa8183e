"""Multi-worker input: each worker decodes only its rows of every global batch, and the workers'
rows together are exactly the unsharded batches (so a multi-worker step sees what one device sees)."""

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tfgan_translate import data
from tfgan_translate.data.options import make_options
from tfgan_translate.data.pipeline import finish, image_stream, zip_unpaired

SIZE = 8


def counting_stream(count, decoded, o, key, stream):
    """``count`` items whose decode adds 1 to ``decoded`` (a variable) and makes an image from the id."""
    items = tf.data.Dataset.range(count)

    def load(i):
        decoded.assign_add(1)
        level = tf.cast(i * 7 % 256, tf.float32)
        return {key: tf.fill([SIZE, SIZE, 3], level), f"id_{key}": i}

    return image_stream(items, count, load, o, keys=(key,), stream=stream)


def batches(count_a, count_b, batch_size, shard=None, seed=3):
    decoded = tf.Variable(0, dtype=tf.int64)
    o = make_options(dict(batch_size=batch_size, image_size=SIZE, seed=seed, deterministic=True, shard=shard),
                     default_crop_size=SIZE)
    ds, count = zip_unpaired(counting_stream(count_a, decoded, o, "a", 0), count_a,
                             counting_stream(count_b, decoded, o, "b", 1), count_b)
    ds = finish(ds, count, o)
    out = [{k: v.numpy() for k, v in batch.items()} for batch in ds]
    return out, int(decoded.numpy()), ds


@pytest.mark.parametrize("workers", [2, 4])
def test_the_workers_rows_make_up_the_unsharded_batches_and_each_decodes_only_its_own(workers):
    # 11 A images, 7 B images (B cycles), global batch 4: 2 full global batches, the rest dropped
    whole, decoded_whole, _ = batches(11, 7, 4)
    parts = [batches(11, 7, 4, shard=(w, workers)) for w in range(workers)]
    assert len(whole) == 2 and decoded_whole >= 2 * 11  # all 11 pairs (and what the maps ran ahead)
    for w, (rows, decoded, ds) in enumerate(parts):
        assert len(rows) == len(whole)
        assert int(ds.cardinality()) == len(whole)
        assert decoded == 2 * len(whole) * 4 // workers, w  # its rows only: a and b of each
    for step, batch in enumerate(whole):
        for key in batch:
            joined = np.concatenate([parts[w][0][step][key] for w in range(workers)])
            np.testing.assert_array_equal(joined, batch[key], err_msg=f"step {step} {key}")


def test_a_folder_dataset_shards_through_its_jitter_exactly(tmp_path):
    rng = np.random.default_rng(0)
    for domain, count in (("A", 6), ("B", 5)):
        (tmp_path / f"train{domain}").mkdir()
        for i in range(count):
            Image.fromarray(rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)).save(tmp_path / f"train{domain}" / f"{i}.png")
    options = dict(batch_size=2, image_size=16, seed=5, deterministic=True)
    whole = list(data.unaligned_folder(tmp_path, **options))
    halves = [list(data.unaligned_folder(tmp_path, shard=(w, 2), **options)) for w in (0, 1)]
    assert len(whole) == len(halves[0]) == len(halves[1]) == 3
    for step, batch in enumerate(whole):
        for key in ("a", "b"):
            np.testing.assert_array_equal(np.concatenate([halves[0][step][key], halves[1][step][key]]),
                                          batch[key].numpy())


def test_a_bad_shard_is_refused_by_name():
    with pytest.raises(ValueError, match="does not split over 3 workers"):
        make_options(dict(batch_size=4, shard=(0, 3)))
    with pytest.raises(ValueError, match=r"shard \(2, 2\): the worker must be in \[0, workers\)"):
        make_options(dict(batch_size=4, shard=(2, 2)))
