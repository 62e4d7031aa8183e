"""tfds CycleGAN source, run offline under tfds.testing.mock_data."""

import numpy as np
import pytest
import tensorflow as tf

from tfgan_translate import data

tfds = pytest.importorskip("tensorflow_datasets")


@pytest.fixture
def mocked_tfds(tmp_path):
    """Random images in place of the real download; no network, nothing outside tmp_path."""
    with tfds.testing.mock_data(num_examples=4, data_dir=str(tmp_path),
                                policy=tfds.testing.MockPolicy.USE_CODE):
        yield str(tmp_path)


def _raw_images(data_dir, split):
    ds = tfds.load("cycle_gan/horse2zebra", split=split, data_dir=data_dir,
                   shuffle_files=False)
    return [ex["image"].numpy() for ex in ds]


def test_train_split_yields_jittered_full_size_batches(mocked_tfds):
    ds = data.tfds_unpaired("horse2zebra", "train", batch_size=2, shuffle=False, seed=0,
                            data_dir=mocked_tfds)
    batches = list(ds)
    assert len(batches) == 2
    raw = _raw_images(mocked_tfds, "trainA")
    for i, batch in enumerate(batches):
        for key in ("a", "b"):
            x = batch[key]
            assert x.shape == (2, 256, 256, 3) and x.dtype == tf.float32
            assert -1.0 <= float(tf.reduce_min(x)) <= float(tf.reduce_max(x)) <= 1.0
        # Jittered: not the plain resize of the same (unshuffled) image.
        plain = tf.image.resize(raw[2 * i], (256, 256), antialias=True) / 127.5 - 1
        assert float(tf.reduce_max(tf.abs(batch["a"][0] - plain))) > 0.05


def test_test_split_is_a_plain_resize(mocked_tfds):
    ds = data.tfds_unpaired("cycle_gan/horse2zebra", "test", batch_size=4,
                            data_dir=mocked_tfds)
    (batch,) = list(ds)
    assert batch["a"].shape == batch["b"].shape == (4, 256, 256, 3)
    for key, split in (("a", "testA"), ("b", "testB")):
        for got, raw in zip(batch[key], _raw_images(mocked_tfds, split)):
            expected = tf.image.resize(raw, (256, 256), antialias=True) / 127.5 - 1
            np.testing.assert_allclose(got.numpy(), expected.numpy(), atol=1e-5)


def test_direction_swaps_domains(mocked_tfds):
    kw = dict(batch_size=4, image_size=32, data_dir=mocked_tfds)
    (ab,) = list(data.tfds_unpaired("horse2zebra", "test", **kw))
    (ba,) = list(data.tfds_unpaired("horse2zebra", "test", "BtoA", **kw))
    np.testing.assert_array_equal(ab["a"].numpy(), ba["b"].numpy())


def test_bad_split_is_refused():
    with pytest.raises(ValueError, match="split"):
        data.tfds_unpaired("horse2zebra", "validation")


def test_download_path_has_its_dependencies(tmp_path):
    # tfds 4.9.x imports importlib_resources to find its checksums before downloading, without
    # declaring it (tensorflow/datasets#11212); we install it. This reads the URLs, offline.
    builder = tfds.builder("cycle_gan/horse2zebra", data_dir=str(tmp_path))
    assert any(url.endswith("/horse2zebra.zip") for url in builder.url_infos)


def test_failed_download_is_one_clear_error(monkeypatch, tmp_path, capsys):
    import requests

    from tfgan_translate import cli, cyclegan, evaluation

    def offline(*args, **kwargs):
        raise requests.exceptions.ConnectionError(
            "HTTPSConnectionPool(host='efrosgans.eecs.berkeley.edu', port=443): Max retries exceeded\n...")

    monkeypatch.setattr(tfds, "load", offline)
    with pytest.raises(ValueError, match=r"could not load tfds 'cycle_gan/horse2zebra'.*ConnectionError.*--data-dir"):
        data.tfds_unpaired("horse2zebra", "train")
    with pytest.raises(ValueError, match="demo-"):
        list(evaluation.evaluation_source(cyclegan.FAMILY, "horse2zebra", 32, batch_size=1).inputs())
    run_dir = tmp_path / "run"
    assert cli.main(["train", "cyclegan", "--dataset", "horse2zebra", "--run-dir", str(run_dir)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "could not load tfds" in err and "Traceback" not in err
    assert not run_dir.exists()
