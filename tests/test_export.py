"""Deployment: every export format computes what the Keras generator computes, and images that are
not 8-bit RGB (16-bit, one or four channels) come out of ``translate`` with every level they had.

The exported files are run here by their own runtimes (TFLite's interpreter, ONNX Runtime,
TensorFlow's SavedModel loader) on an image the exporter's own parity check never saw.
"""

import json
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfgan_translate import networks
from tfgan_translate.app import cli, export, image_files, inference

FORMATS = ("savedmodel", "tflite", "tflite-fp16", "tflite-int8", "onnx")
# what each format may differ by on a fresh random image (outputs in [-1, 1]): stated in export.TOLERANCE
CHECKED = ("tflite", "tflite-fp16", "onnx")


def _resnet():
    keras.utils.set_random_seed(1)
    return networks.build_resnet_generator((None, None, 3), ngf=8, n_blocks=2)


def _unet():
    """A pix2pix U-Net whose batch norms hold moving statistics far from the batch's (as after
    training), so that training-mode and inference-mode outputs differ plainly."""
    keras.utils.set_random_seed(2)
    model = networks.build_unet_generator((None, None, 3), num_downs=5, ngf=8, norm="batch")
    rng = np.random.default_rng(0)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.moving_mean.assign(rng.normal(0, 0.5, layer.moving_mean.shape))
            layer.moving_variance.assign(rng.uniform(0.3, 3.0, layer.moving_variance.shape))
    return model


def _run(fmt, path, x):
    if fmt.startswith("tflite"):
        with warnings.catch_warnings():  # "use LiteRT's interpreter" (it runs the same files)
            warnings.simplefilter("ignore", UserWarning)
            interpreter = tf.lite.Interpreter(model_path=str(path))
        interpreter.allocate_tensors()
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
        interpreter.invoke()
        return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    if fmt == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return session.run(None, {session.get_inputs()[0].name: x})[0]
    loaded = tf.saved_model.load(str(path))
    return loaded.serve(tf.constant(x)).numpy()


@pytest.mark.slow
@pytest.mark.parametrize("build", [_resnet, _unet], ids=["resnet", "unet"])
def test_every_format_computes_what_the_keras_model_computes(build, tmp_path):
    model = build()
    record = export.export_models({"g": model}, tmp_path, "test", formats=FORMATS, size=32, log=print)
    assert json.loads((tmp_path / "export.json").read_text()) == record
    entry = record["generators"]["g"]
    assert record["layout"] == "NHWC" and record["input_range"] == [-1.0, 1.0] and record["onnx_opset"] == 17
    assert entry["channels_in"] == entry["channels_out"] == 3 and entry["size_multiple"] in (4, 32)
    files = entry["files"]
    assert set(files) == set(FORMATS)
    assert files["tflite"]["fixed_size"] == [32, 32] and "only" in files["tflite"]["input"]
    assert files["tflite-int8"]["max_abs_error"] > 0  # reported, not assumed zero
    for fmt in FORMATS:
        assert files[fmt]["max_abs_error"] <= export.TOLERANCE[fmt], (fmt, files[fmt])
    # on an image the exporter never saw, by each runtime, at the TFLite size and (any-size formats) another
    rng = np.random.default_rng(7)
    fixed = rng.uniform(-1, 1, (1, 32, 32, 3)).astype(np.float32)
    other = rng.uniform(-1, 1, (2, 64, 96, 3)).astype(np.float32)
    for fmt in CHECKED + ("savedmodel",):
        path = tmp_path / export.file_name("g", fmt)
        for x in (fixed,) if fmt.startswith("tflite") else (fixed, other):
            expected = model(x, training=False).numpy()
            np.testing.assert_allclose(_run(fmt, path, x), expected, atol=export.TOLERANCE[fmt], err_msg=fmt)


def test_a_training_mode_export_is_caught_and_leaves_no_file(tmp_path, monkeypatch):
    """The reference project's ONNX bug (batch norm and dropout left in training mode): the parity
    check runs the file beside the inference-mode model, and a mismatch deletes the file."""
    model = _unet()
    monkeypatch.setattr(export, "_inference",
                        lambda m: lambda *inputs: m(inputs[0], training=True))  # the mistake, in every writer
    monkeypatch.setattr(export, "check_parity", _reference_in_inference_mode(export.check_parity, model))
    with pytest.raises(export.ExportParityError, match=r"g\.tflite \(tflite\) differs from the Keras model by up to"):
        export.export_models({"g": model}, tmp_path, "test", formats=("tflite",), size=32)
    assert not (tmp_path / "g.tflite").exists() and not (tmp_path / "export.json").exists()


def _reference_in_inference_mode(check, model):
    """check_parity, but against the true (inference-mode) output: the patched ``_inference`` would
    otherwise make the exporter's own reference wrong too."""
    def checked(fmt, reference, output, path):
        x = export.parity_inputs(model, *np.asarray(output).shape[1:3])[0]
        return check(fmt, model(x, training=False).numpy(), output, path)
    return checked


@pytest.mark.slow
def test_the_serving_signature_translates_any_size_as_translate_does(tmp_path):
    model = _resnet()
    export.export_models({"g": model}, tmp_path, "test", formats=("savedmodel",))
    loaded = tf.saved_model.load(str(tmp_path / "g"))
    image = np.random.default_rng(3).uniform(-1, 1, (301, 517, 3)).astype(np.float32)
    served = loaded.signatures["serving_default"](images=tf.constant(image[None]))
    (output,) = served.values()
    assert output.shape == (1, 301, 517, 3)
    np.testing.assert_allclose(output.numpy()[0], inference.translate_array(model, image), atol=1e-5)
    small = image[:5, :7]  # enlarged for the reflection padding inside the graph too
    np.testing.assert_allclose(loaded.translate(tf.constant(small[None])).numpy()[0],
                               inference.translate_array(model, small), atol=1e-5)


def test_export_flags_are_checked_before_any_work(tmp_path, capsys):
    assert cli.main(["export", "--run-dir", str(tmp_path), "--output", str(tmp_path / "o"), "--format", "tflite,coreml"]) == 2
    assert "--format 'tflite,coreml'" in capsys.readouterr().err
    assert cli.main(["export", "--run-dir", str(tmp_path), "--output", str(tmp_path / "o"), "--size", "0"]) == 2
    assert "--size must be a positive" in capsys.readouterr().err


# --- 16-bit and N-channel images through translate ----------------------------------------------

def _identity(channels):
    """A generator that returns its input (1x1 convolution with the identity kernel): what comes
    out of translate is what it read, so any quantisation on the way shows."""
    inputs = keras.Input((None, None, channels))
    conv = keras.layers.Conv2D(channels, 1)
    model = keras.Model(inputs, conv(inputs))
    conv.set_weights([np.eye(channels, dtype=np.float32)[None, None], np.zeros(channels, np.float32)])
    return model


def _levels(shape, start=20_000):
    """Consecutive 16-bit levels: neighbours differ by 1/65535."""
    return (start + np.arange(np.prod(shape))).reshape(shape).astype(np.uint16)


@pytest.mark.parametrize("channels,suffix", [(1, ".png"), (3, ".tif"), (4, ".tif")])
def test_16_bit_levels_survive_translate_through_1_3_and_4_channel_models(tmp_path, channels, suffix):
    import tifffile

    levels = _levels((24, 20, channels))
    source = tmp_path / "in" / f"scan{suffix}"
    source.parent.mkdir()
    if suffix == ".png":
        source.write_bytes(tf.io.encode_png(levels).numpy())
    else:
        tifffile.imwrite(source, levels, photometric="rgb" if channels == 3 else "minisblack", planarconfig="contig")
    model_file = tmp_path / "identity.keras"
    _identity(channels).save(model_file)
    out = tmp_path / "out"
    assert cli.main(["translate", "--model", str(model_file), "--input", str(source), "--output", str(out),
                     "--output-bit-depth", "16", "--html"]) == 0
    written = out / f"scan{image_files.output_suffix(channels)}"
    pixels, peak = image_files.read_pixels(written)
    assert peak == 65535 and pixels.dtype == np.uint16 and pixels.shape == levels.shape
    np.testing.assert_array_equal(pixels, levels)  # every level kept, none merged with its neighbour
    assert (out / "index.html").is_file()


def test_a_16_bit_png_is_not_read_as_almost_white(tmp_path):
    """Pillow's convert("L") of a 16-bit grey PNG clips it to 255: the old translate input."""
    levels = _levels((8, 8, 1), start=1000)  # dark: about 1.5% of full scale
    path = tmp_path / "dark.png"
    path.write_bytes(tf.io.encode_png(levels).numpy())
    np.testing.assert_allclose(image_files.read_image(path, 1), levels / 32767.5 - 1, rtol=0, atol=1e-7)
    as_rgb = image_files.read_image(path, 3)  # grey repeated for a 3-channel generator
    assert as_rgb.shape == (8, 8, 3) and as_rgb.max() < -0.96


def test_channel_mismatches_are_adapted_or_named(tmp_path):
    rgb = tmp_path / "rgb.png"
    from PIL import Image

    Image.fromarray(np.full((4, 4, 3), (255, 0, 0), np.uint8)).save(rgb)
    gray = image_files.read_image(rgb, 1)
    assert gray.shape == (4, 4, 1) and np.allclose(gray, 76 / 127.5 - 1)  # Pillow's luma of pure red
    with pytest.raises(ValueError, match=r"rgb\.png has 3 channel\(s\); the generator takes 4"):
        image_files.read_image(rgb, 4)


# --- 16-bit and N-channel data in training ----------------------------------------------------

def test_training_decodes_16_bit_png_and_tiff_levels_exactly(tmp_path):
    import tifffile

    from tfgan_translate import data

    levels = _levels((24, 20, 3))
    png, tiff, four = tmp_path / "rgb16.png", tmp_path / "rgb16.tif", tmp_path / "bands.tif"
    png.write_bytes(tf.io.encode_png(levels).numpy())
    tifffile.imwrite(tiff, levels, photometric="rgb")
    tifffile.imwrite(four, np.concatenate([levels, levels[..., :1]], axis=-1), photometric="minisblack",
                     planarconfig="contig")
    for path in (png, tiff):
        decoded = data.decode_levels(tf.io.read_file(str(path)), 3).numpy()
        np.testing.assert_array_equal(np.round(decoded.astype(np.float64) * 257), levels)  # levels / 257, kept
        assert len(np.unique(data.normalize(decoded).numpy())) == levels.size  # neighbours stay distinct
    assert data.decode_levels(tf.io.read_file(str(four)), 4).shape == (24, 20, 4)
    with pytest.warns(data.BadImageWarning, match=r"bands\.tif: it has 4 channel\(s\), the data needs 5"):
        assert data.decode.check_image_files([str(four)], channels=5) == []


@pytest.mark.slow
def test_gray_and_four_channel_domains_train_translate_and_export(tmp_path):
    """CycleGAN from 16-bit grey PNGs (A) to 4-band 16-bit TIFFs (B): train, translate at 16 bits, export."""
    import tifffile

    rng = np.random.default_rng(0)
    root = tmp_path / "bands"
    for split, count in (("train", 3), ("test", 2)):
        for domain, channels in (("A", 1), ("B", 4)):
            folder = root / f"{split}{domain}"
            folder.mkdir(parents=True)
            for i in range(count):
                pixels = rng.integers(0, 65536, (36, 36, channels), dtype=np.uint16)
                if channels == 1:
                    (folder / f"{i}.png").write_bytes(tf.io.encode_png(pixels).numpy())
                else:
                    tifffile.imwrite(folder / f"{i}.tif", pixels, photometric="minisblack", planarconfig="contig")
    run = tmp_path / "run"
    assert cli.main(["train", "cyclegan", "--dataset", str(root), "--run-dir", str(run), "--image-size", "32",
                     "--ngf", "4", "--ndf", "4", "--n-blocks", "1", "--input-channels", "1", "--output-channels", "4",
                     "--lambda-identity", "0", "--batch-size", "1", "--steps", "2", "--no-progress"]) == 0
    out = tmp_path / "out"
    assert cli.main(["translate", "--run-dir", str(run), "--input", str(root / "testA"), "--output", str(out),
                     "--output-bit-depth", "16"]) == 0
    translated = tifffile.imread(out / "0.tif")
    assert translated.shape == (36, 36, 4) and translated.dtype == np.uint16
    back = tmp_path / "back"
    assert cli.main(["translate", "--run-dir", str(run), "--direction", "BtoA", "--input", str(root / "testB"),
                     "--output", str(back)]) == 0
    assert image_files.read_pixels(back / "0.png")[0].shape == (36, 36, 1)
    exported = tmp_path / "exported"
    assert cli.main(["export", "--run-dir", str(run), "--output", str(exported), "--format", "tflite,onnx"]) == 0
    info = json.loads((exported / "export.json").read_text())["generators"]
    assert (info["generator_ab"]["channels_in"], info["generator_ab"]["channels_out"]) == (1, 4)
    assert (info["generator_ba"]["channels_in"], info["generator_ba"]["channels_out"]) == (4, 1)


def test_a_format_that_fails_to_run_leaves_no_file_and_the_record_of_those_that_passed(tmp_path, monkeypatch):
    model = _resnet()

    def broken_runtime(path, inputs):
        raise RuntimeError("the runtime rejects an op")

    monkeypatch.setitem(export.RUNNERS, "tflite", broken_runtime)
    with pytest.raises(export.ExportError, match=r"g\.tflite \(tflite\) could not be written and run \(RuntimeError"):
        export.export_models({"g": model}, tmp_path, "test", formats=("keras", "tflite"), size=32)
    assert (tmp_path / "g.keras").is_file() and not (tmp_path / "g.tflite").exists()
    assert set(json.loads((tmp_path / "export.json").read_text())["generators"]["g"]["files"]) == {"keras"}


def test_demo_pairs_give_each_domain_its_channels_in_either_direction():
    from tfgan_translate import data

    for direction in ("AtoB", "BtoA"):
        batch = next(iter(data.demo_paired("gray2color", direction=direction, num_examples=2, image_size=32,
                                           batch_size=2, channels=1, channels_b=3)))
        assert batch["a"].shape[-1] == 1 and batch["b"].shape[-1] == 3, direction


def test_a_constant_output_is_caught_even_within_the_loose_int8_bound(tmp_path):
    reference = np.random.default_rng(0).uniform(-0.4, 0.4, (1, 16, 16, 3)).astype(np.float32)
    constant = np.full_like(reference, reference.mean())  # every difference under int8's 0.5
    path = tmp_path / "g_int8.tflite"
    path.write_bytes(b"broken")
    with pytest.raises(export.ExportParityError, match="half the output's spread"):
        export.check_parity("tflite-int8", reference, constant, path)
    assert not path.exists()
    close = reference + np.random.default_rng(1).normal(0, 0.01, reference.shape).astype(np.float32)
    assert export.check_parity("tflite-int8", reference, close, path)["mean_abs_error"] < 0.02


def test_a_one_channel_generator_converts_to_onnx_of_the_right_shape_every_time(tmp_path):
    """tf2onnx's reshape optimizer turned a 4 -> 1 channel generator's output into (1, 1, H, W, 1) in
    about one conversion in four (its node order follows object ids); eight conversions in a row
    must each give the Keras model's (1, H, W, 1) and its values."""
    keras.utils.set_random_seed(3)
    model = networks.build_resnet_generator((None, None, 4), output_channels=1, ngf=4, n_blocks=1)
    x = np.random.default_rng(0).uniform(-1, 1, (1, 36, 44, 4)).astype(np.float32)
    expected = model(x, training=False).numpy()
    for attempt in range(8):
        path = tmp_path / f"g{attempt}.onnx"
        export.WRITERS["onnx"](model, path, None)
        output = _run("onnx", path, x)
        assert output.shape == expected.shape, f"conversion {attempt}"
        np.testing.assert_allclose(output, expected, atol=export.TOLERANCE["onnx"])
