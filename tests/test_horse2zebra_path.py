"""The tfds path the horse2zebra notebook and ``train cyclegan --dataset horse2zebra`` take, offline.

``runs.training_dataset_fn`` with a tfds CycleGAN name, a short fit across an epoch boundary,
and the held-out source of ``evaluation``, all under ``tfds.testing.mock_data``.
"""

import numpy as np
import pytest

from tfgan_translate import cyclegan, evaluation, runs, training

tfds = pytest.importorskip("tensorflow_datasets")

SIZE = 32
EXAMPLES = 4  # per split, from the mock


@pytest.fixture
def mocked_tfds(tmp_path):
    data_dir = str(tmp_path / "tfds")
    with tfds.testing.mock_data(num_examples=EXAMPLES, data_dir=data_dir, policy=tfds.testing.MockPolicy.USE_CODE):
        yield data_dir


def _config():
    return cyclegan.Config(image_size=SIZE, ngf=4, ndf=4, n_blocks=1, batch_size=2, pool_size=2)


def test_training_dataset_of_a_tfds_name_is_seeded_per_epoch(mocked_tfds):
    dataset_fn, steps_per_epoch = runs.training_dataset_fn("cyclegan", "horse2zebra", _config(), data_dir=mocked_tfds)
    assert steps_per_epoch == EXAMPLES // 2
    first = list(dataset_fn(1))
    assert len(first) == steps_per_epoch
    for batch in first:
        for key in ("a", "b"):
            assert batch[key].shape == (2, SIZE, SIZE, 3)
            assert -1.0 <= float(np.min(batch[key])) <= float(np.max(batch[key])) <= 1.0
    # A resumed run must see the same batches for the same epoch, and other ones in another epoch.
    again = list(dataset_fn(1))
    np.testing.assert_array_equal(np.stack([b["a"] for b in first]), np.stack([b["a"] for b in again]))
    other = list(dataset_fn(2))
    assert not np.array_equal(np.stack([b["a"] for b in first]), np.stack([b["a"] for b in other]))


def test_paired_family_refuses_tfds_cycle_gan(mocked_tfds):
    from tfgan_translate import pix2pix

    with pytest.raises(ValueError, match="paired"):
        runs.training_dataset_fn("pix2pix", "horse2zebra", pix2pix.Config(image_size=SIZE), data_dir=mocked_tfds)


@pytest.mark.slow
def test_fit_resume_and_held_out_split_on_horse2zebra(mocked_tfds, tmp_path):
    config = _config()
    dataset_fn, steps_per_epoch = runs.training_dataset_fn("cyclegan", "horse2zebra", config, data_dir=mocked_tfds)
    run_dir = tmp_path / "run"
    first = training.fit(cyclegan.Trainer(config, steps_per_epoch=steps_per_epoch), dataset_fn, run_dir,
                         steps_per_epoch=steps_per_epoch, total_steps=3, progress=False)  # crosses an epoch
    assert first.step == 3 and first.resumed_from is None
    assert all(np.isfinite(v) for v in first.losses.values())
    second = training.fit(cyclegan.Trainer(config, steps_per_epoch=steps_per_epoch), dataset_fn, run_dir,
                          steps_per_epoch=steps_per_epoch, total_steps=4, progress=False)
    assert second.step == 4 and second.resumed_from is not None

    source = evaluation.evaluation_source(cyclegan.FAMILY, "horse2zebra", SIZE, batch_size=3, data_dir=mocked_tfds)
    assert not source.paired and source.split == "testA/testB"
    inputs = np.concatenate(list(source.inputs()))
    assert inputs.shape == (EXAMPLES, SIZE, SIZE, 3)  # every test image once, the last batch partial
    family, generators = runs.load_generators(run_dir)
    assert family.name == "cyclegan"
    translated = runs.generator_for_direction(family, generators, "AtoB")(inputs, training=False)
    assert translated.shape == inputs.shape
