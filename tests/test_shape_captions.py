"""The offline captioned shape scenes (known attributes, paraphrased captions, held-out combinations)
and the attribute classifier that judges text -> image samples (its accuracy, and that it can fail)."""

import itertools

import numpy as np
import pytest

from tfgan_translate.data import shape_captions as sc
from tfgan_translate.metrics import caption_quality as cq

COLOURS, SHAPES, SIZES, POSITIONS = (sc.VALUES[name] for name in sc.ATTRIBUTES)


@pytest.fixture(scope="module")
def judge16():
    return cq.train_attribute_classifier(16)


def test_splits_have_the_documented_shapes_dtypes_and_are_read_only():
    for split, count in (("train", 2480), ("test", 400)):
        for size in (16, 64):
            scenes = sc.shape_scenes(split, size)
            assert len(scenes) == count and scenes.images.shape == (count, size, size, 3)
            assert scenes.images.dtype == np.uint8 and scenes.attributes.dtype == np.int64
            assert scenes.attributes.shape == (count, 4) and not scenes.images.flags.writeable
            assert len(scenes.captions) == count and all(len(c) == 10 for c in scenes.captions)
            assert all(isinstance(t, str) for t in scenes.captions[0])
    assert sc.shape_scenes("train") is sc.shape_scenes(split="train", image_size=64)  # one cache entry
    assert sc.render((0, 0, 0, 0), 128, np.random.default_rng(0)).shape == (128, 128, 3)
    with pytest.raises(ValueError):
        sc.shape_scenes("validation")


def test_the_same_call_gives_the_same_arrays():
    cached = sc.shape_scenes("test", 64)
    fresh = sc._scenes.__wrapped__("test", 64)  # recomputed, not the cached object
    np.testing.assert_array_equal(fresh.images, cached.images)
    np.testing.assert_array_equal(fresh.attributes, cached.attributes)
    assert fresh.captions == cached.captions
    a, b = (sc.render((1, 2, 1, 3), 32, np.random.default_rng(5)) for _ in range(2))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, sc.render((1, 2, 1, 3), 32, np.random.default_rng(6)))


def test_ten_distinct_captions_name_the_scene_colour_and_shape_with_a_small_vocabulary():
    shape_words = sc.SHAPE_WORDS
    for combo in sc.all_combinations():
        colour, shape = COLOURS[combo[0]], SHAPES[combo[1]]
        texts = sc.captions_of(combo)
        assert len(texts) == 10 and len(set(texts)) == 10 and texts[3] == sc.caption(combo, 3)
        for text in texts:
            words = sc.words(text)
            assert text == text.lower() and colour in words
            assert [c for c in COLOURS if c in words] == [colour]  # no other colour word
            assert any(w in words for w in shape_words[shape])
            assert not any(w in words for s in SHAPES if s != shape for w in shape_words[s])
    assert len(sc.vocabulary()) < 60
    with pytest.raises(ValueError):
        sc.caption((0, 0, 0, 0), 10)


def test_held_out_combinations_are_only_in_test_and_every_value_pair_stays_in_train():
    held = sc.held_out_combinations()
    assert len(held) == 20 and held == sc.held_out_combinations()
    train = {tuple(a) for a in sc.shape_scenes("train", 64).attributes.tolist()}
    test = {tuple(a) for a in sc.shape_scenes("test", 64).attributes.tolist()}
    assert not train & held and test == held and len(train) == 144 - 20
    for j, k in itertools.combinations(range(4), 2):  # (colour, shape), (shape, size), ... all of them
        sizes = (len(sc.VALUES[sc.ATTRIBUTES[j]]), len(sc.VALUES[sc.ATTRIBUTES[k]]))
        assert {(a[j], a[k]) for a in train} == set(itertools.product(*map(range, sizes)))


def test_16px_scenes_are_the_area_downsampled_64px_scenes():
    for split in ("train", "test"):
        big = sc.shape_scenes(split, 64).images.astype(np.float64)
        small = np.floor(big.reshape(-1, 16, 4, 16, 4, 3).mean(axis=(2, 4)) + 0.5)
        np.testing.assert_array_equal(sc.shape_scenes(split, 16).images, small.astype(np.uint8))
        np.testing.assert_array_equal(sc.shape_scenes(split, 16).attributes, sc.shape_scenes(split, 64).attributes)


def test_the_shape_pixels_lie_in_the_stated_quadrant_and_have_the_stated_colour_and_size():
    areas, extents = {}, {size: [] for size in SIZES}
    palette = np.array([sc.RGB[c] for c in COLOURS], np.float64)
    for split in ("train", "test"):
        scenes = sc.shape_scenes(split, 64)
        for image, (colour, shape, size, position) in zip(scenes.images[:400], scenes.attributes[:400]):
            pixels = image.astype(np.float64)
            background = np.median(pixels.reshape(-1, 3), axis=0)
            ys, xs = np.nonzero(np.abs(pixels - background).sum(-1) > 60)
            vertical, horizontal = POSITIONS[position].split()
            assert len(ys) > 20
            assert ((ys >= 32) == (vertical == "bottom")).all() and ((xs >= 32) == (horizontal == "right")).all()
            mean = pixels[ys, xs].mean(axis=0)
            assert np.argmin(np.linalg.norm(palette - mean, axis=1)) == colour
            areas.setdefault((shape, size), []).append(len(ys))
            extents[SIZES[size]].append(max(np.ptp(ys), np.ptp(xs)))
    assert max(extents["small"]) < min(extents["large"])  # size is the extent, and per shape the area
    assert all(max(areas[shape, 0]) < min(areas[shape, 1]) / 1.8 for shape in range(len(SHAPES)))


def test_the_classifier_judges_held_out_combinations_at_16px(judge16):
    classifier, held_out = judge16
    assert set(held_out) == {*sc.ATTRIBUTES, "all"}
    assert all(held_out[name] >= 0.97 for name in sc.ATTRIBUTES), held_out
    test = sc.shape_scenes("test", 16)
    assert cq.attribute_accuracy(classifier, cq.to_float(test.images), test.attributes) == held_out


def test_the_score_can_fail_shuffled_attributes_and_random_images_score_near_chance(judge16):
    classifier, held_out = judge16
    test = sc.shape_scenes("test", 16)
    shuffled = np.random.default_rng(0).permutation(test.attributes)
    wrong = cq.attribute_accuracy(classifier, cq.to_float(test.images), shuffled)
    assert wrong["all"] < 0.15 and wrong["colour"] < 0.4 and wrong["shape"] < 0.55, wrong
    for kind in ("scene", "noise"):
        chance = cq.random_image_baseline(classifier, 16, count=400, kind=kind)
        assert chance["colour"] < 0.35 and chance["shape"] < 0.5 and chance["all"] < 0.05, (kind, chance)
        assert held_out["colour"] - chance["colour"] > 0.5 and held_out["shape"] - chance["shape"] > 0.4
    with pytest.raises(ValueError):
        cq.attribute_accuracy(classifier, cq.to_float(test.images[:3]), test.attributes[:2])
