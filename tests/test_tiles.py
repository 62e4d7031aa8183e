"""Tiled translation: tiles normalised with the whole image's instance-norm statistics give the
untiled result (no seams, no colour shift); per-tile statistics, the naive way, do not."""

import keras
import numpy as np
import pytest
from skimage import data as photos

from tfgan_translate import networks
from tfgan_translate.app import cli, image_files, inference, tiles


@pytest.fixture(scope="module")
def generator():
    keras.utils.set_random_seed(0)
    return networks.build_resnet_generator((None, None, 3), ngf=8, n_blocks=2)


@pytest.fixture(scope="module")
def photo():
    return photos.astronaut()[:250, :198].astype(np.float32) / 127.5 - 1  # not a multiple of 4 either way


def test_the_statistics_of_the_tiles_are_the_whole_images(generator, photo):
    padded = np.pad(photo, ((1, 1), (1, 1), (0, 0)), mode="reflect")  # 252 x 200: multiples of 4
    tiling = tiles._Tiling(*padded.shape[:2], core=64, halo=tiles.default_halo(generator, 64))
    statistics = tiles.whole_image_statistics(generator, padded, tiling)
    norms = tiles.instance_norm_layers(generator)
    assert list(statistics) == [n.name for n in norms] and len(norms) == 3 + 2 * 2 + 2
    for norm in norms:  # the untiled activations (their own statistics, as the model runs them)
        x = keras.Model(generator.input, norm.input)(padded[None], training=False).numpy()[0].astype(np.float64)
        mean, variance = statistics[norm.name]
        np.testing.assert_allclose(mean, x.mean(axis=(0, 1)), rtol=1e-4, atol=1e-5, err_msg=norm.name)
        np.testing.assert_allclose(variance, x.var(axis=(0, 1)), rtol=1e-4, atol=1e-6, err_msg=norm.name)


def test_tiles_with_the_receptive_halo_equal_the_untiled_translation(generator, photo):
    untiled = inference.translate_array(generator, photo)
    halo = tiles.default_halo(generator, 64)
    assert halo >= tiles.receptive_radius(generator) > 0
    tiled = tiles.translate_tiled(generator, photo, tile=64)
    assert tiled.shape == untiled.shape
    assert np.abs(tiled - untiled).max() < 1e-4
    # a thin halo still gives no seams: the blended result stays close to the untiled one
    assert np.abs(tiles.translate_tiled(generator, photo, tile=64, halo=16) - untiled).mean() < 0.02
    # per-tile statistics, the naive way: every 64 px core translated on its own
    naive = np.concatenate([np.concatenate([inference.translate_array(generator, photo[y:y + 64, x:x + 64])
                                            for x in range(0, 198, 64)], axis=1) for y in range(0, 250, 64)], axis=0)
    assert np.abs(naive - untiled).mean() > 10 * np.abs(tiled - untiled).mean() + 0.01


def test_translate_tile_flag_gives_the_untiled_pixels(generator, photo, tmp_path, capsys):
    model = tmp_path / "g.keras"
    generator.save(model)
    source = tmp_path / "in" / "photo.png"
    source.parent.mkdir()
    image_files.write_image(photo, source)
    for name, extra in (("whole", []), ("tiled", ["--tile", "64"])):
        assert cli.main(["translate", "--model", str(model), "--input", str(source), "--output", str(tmp_path / name),
                         *extra]) == 0
    whole, _ = image_files.read_pixels(tmp_path / "whole" / "photo.png")
    tiled, _ = image_files.read_pixels(tmp_path / "tiled" / "photo.png")
    assert np.abs(whole.astype(int) - tiled.astype(int)).max() <= 1  # at most one level of 8-bit rounding
    assert cli.main(["translate", "--model", str(model), "--input", str(source), "--output", str(tmp_path / "x"),
                     "--tile-halo", "8"]) == 2
    assert "--tile-halo needs --tile" in capsys.readouterr().err


def test_a_generator_with_a_coarser_branch_tiles_exactly_too():
    """pix2pixHD's local enhancer runs its global generator at half resolution: the halo follows
    the graph (the branch's kernels count at twice the spacing), and the result is still the untiled one."""
    import dataclasses

    from tfgan_translate import families

    family = families.get("pix2pixhd")
    config = dataclasses.replace(family.smoke_config, n_local_enhancers=1, label_nc=0, instance_feat=False,
                                 use_instance_map=False)  # an RGB input: tiles cut images
    generator = family.build_models(config)[family.generator_names[0]]
    image = np.random.default_rng(0).uniform(-1, 1, (150, 130, 3)).astype(np.float32)
    assert tiles.receptive_radius(generator) > 40  # the chain through the coarse branch, not the local layers only
    tiled = tiles.translate_tiled(generator, image, tile=96)
    assert np.abs(tiled - inference.translate_array(generator, image)).max() < 1e-4
