"""Export generators for deployment, each file checked against the Keras model before it is kept.

Formats (``tfgan-translate export --format ...``):

- ``keras``: ``<name>.keras``, what ``translate``, ``serve`` and Python users load.
- ``savedmodel``: ``<name>/``, a SavedModel for TF Serving and TF.js. Its default signature
  (``serving_default``, also ``translate``) takes float32 ``(N, H, W, C)`` images in [-1, 1] of
  any height and width and pads or resizes and crops back inside the graph, exactly as
  ``translate`` does; ``serve`` is the bare generator (sides a multiple of ``size_multiple``).
- ``tflite``, ``tflite-fp16``, ``tflite-int8``: ``<name>.tflite``, ``<name>_fp16.tflite``,
  ``<name>_int8.tflite`` through TensorFlow's converter, at one fixed size (phones run fixed
  shapes): float32, float16 weights, and dynamic-range int8 weights.
- ``onnx``: ``<name>.onnx`` through tf2onnx (opset ``ONNX_OPSET``), any batch, height and width
  that are multiples of ``size_multiple``.

Every export runs the generator in inference mode (batch-norm moving statistics, no dropout)
and is run right away on a test image (a real photo, or seeded noise for noise/code inputs)
beside the Keras model: the largest and mean absolute differences go to ``export.json`` and are
printed; a file whose difference exceeds its format's tolerance is deleted and the export
fails (:class:`ExportParityError`), so no export that computes something else is ever left.
int8's error is reported and only bounded loosely (quantised weights differ by design).
``export.json`` also says how to feed each file: layout, value range, channels, size.
"""

import contextlib
import json
import shutil
import tempfile
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from ..layers import portable_ops
from .export_formats import DEFAULT_FORMATS, FORMATS, ONNX_OPSET, file_name, require_onnx  # noqa: F401 (re-exported)
from .inference import size_multiple, translate_batch

# Largest absolute difference to the Keras model (outputs in [-1, 1]) an export may have. Float32
# formats only reorder arithmetic (oneDNN, XNNPACK, ONNX Runtime kernels); float16 weights keep about
# three digits; int8 weights are bounded loosely, to catch a broken export rather than judge quality.
TOLERANCE = {"keras": 1e-5, "savedmodel": 1e-4, "tflite": 1e-3, "tflite-fp16": 5e-2, "tflite-int8": 0.5,
             "onnx": 1e-3, "savedmodel any size": 1e-4}
PARITY_SIZE = 64  # sides of the parity image of an any-size format (rounded up to the size multiple)


class ExportError(RuntimeError):
    """An export could not be written or checked (the file was deleted)."""


class ExportParityError(ExportError):
    """An exported file does not compute what the Keras model computes (it was deleted)."""


def _image_input(model):
    return len(model.inputs) == 1 and len(model.inputs[0].shape) == 4


def parity_inputs(model, height, width, seed=0):
    """The test input of ``model`` as a list of float32 arrays (batch 1): a photo (scikit-image's
    astronaut, resized, its channels matched to the model's) for an image input, seeded normal
    noise for vectors (CGAN/InfoGAN noise and codes)."""
    from skimage import data as photos

    inputs = []
    rng = np.random.default_rng(seed)
    for tensor in model.inputs:
        shape = list(tensor.shape[1:])
        if len(shape) == 3:
            photo = tf.image.resize(photos.astronaut()[None].astype(np.float32), (height, width), method="area")
            photo = photo.numpy() / 127.5 - 1.0
            gray = photo.mean(axis=-1, keepdims=True)
            channels = shape[-1]
            parts = [photo] if channels >= 3 else []
            stack = np.concatenate(parts + [gray] * (channels - 3 if channels >= 3 else channels), axis=-1)
            inputs.append(stack[..., :channels].astype(np.float32))
        else:
            inputs.append(rng.standard_normal([1, *shape]).astype(np.float32))
    return inputs


def _inference(model):
    """``fn(*inputs) -> output``: the generator in inference mode (what every format exports)."""
    return lambda *inputs: model(list(inputs) if len(inputs) > 1 else inputs[0], training=False)


def _specs(model, fixed=None):
    """TensorSpecs of the model's inputs; image inputs get batch 1 and ``fixed`` (H, W) when given,
    else unknown batch, height and width."""
    specs = []
    for i, tensor in enumerate(model.inputs):
        shape = list(tensor.shape)
        if len(shape) == 4:
            shape = [1, *fixed, shape[-1]] if fixed else [None, None, None, shape[-1]]
        else:
            shape = [1 if fixed else None, *shape[1:]]
        specs.append(tf.TensorSpec(shape, tf.float32, name=f"input_{i}" if len(model.inputs) > 1 else "images"))
    return specs


# --- writers: (model, path, size) -> None ---------------------------------------------------------

def _write_keras(model, path, size):
    model.save(path, overwrite=True)


def _write_savedmodel(model, path, size):
    archive = keras.export.ExportArchive()
    archive.track(model)
    specs = _specs(model)
    if _image_input(model):  # the first endpoint is also serving_default
        archive.add_endpoint("translate", lambda images: translate_batch(model, images), input_signature=specs)
    archive.add_endpoint("serve", _inference(model), input_signature=specs)
    archive.write_out(str(path), verbose=False)


def _tflite_writer(quantization):
    def write(model, path, size):
        # Through a SavedModel of the fixed-size signature: the converter's supported path, which
        # freezes the variables into the file (a concrete function converted with its Keras model
        # keeps them as resources that the interpreter never initialises: NaN outputs).
        with tempfile.TemporaryDirectory() as folder:
            archive = keras.export.ExportArchive()
            archive.track(model)
            with portable_ops():  # the archive traces when it writes
                archive.add_endpoint("serve", _inference(model), input_signature=_specs(model, fixed=size))
                archive.write_out(folder, verbose=False)
            converter = tf.lite.TFLiteConverter.from_saved_model(folder)
            if quantization:
                converter.optimizations = [tf.lite.Optimize.DEFAULT]  # alone: dynamic-range int8 weights
            if quantization == "float16":
                converter.target_spec.supported_types = [tf.float16]
            Path(path).write_bytes(converter.convert())
    return write


def _write_onnx(model, path, size):
    require_onnx()
    import tf2onnx

    _numpy2_compatible_tf2onnx()
    function = tf.function(_inference(model), input_signature=_specs(model))
    with portable_ops(), _without_onnx_optimizer("reshape_optimizer"):
        tf2onnx.convert.from_function(function, input_signature=_specs(model), opset=ONNX_OPSET, output_path=str(path))


@contextlib.contextmanager
def _without_onnx_optimizer(name):
    """tf2onnx with one of its graph optimizers left out, for the conversions made inside.

    ``reshape_optimizer`` (tf2onnx 1.16-1.17) replaces the computed shape of the reshape that stands
    for a one-channel NCHW -> NHWC transpose with a wrong constant in some runs and not others (its
    node order follows object ids): a 4 -> 1 channel generator then gave (1, 1, H, W, 1) instead of
    (1, H, W, 1) in about one conversion in four. Without it the graphs keep their one transpose and
    convert the same way every time (``tests/test_export.py`` converts one repeatedly)."""
    from tf2onnx import optimizer

    table = optimizer._optimizers  # noqa: SLF001 (from_function takes no optimizer list)
    removed = table.pop(name, None)
    try:
        yield
    finally:
        if removed is not None:
            table[name] = removed


def _numpy2_compatible_tf2onnx():
    """tf2onnx still spells removed NumPy 2 names; Keras ships the fix for its own ONNX export."""
    import warnings

    try:
        from keras.src.export.tf2onnx_lib import patch_tf2onnx
    except ImportError:  # a Keras without it: tf2onnx may have been fixed meanwhile
        return
    with warnings.catch_warnings():  # its own probe of np.object warns
        warnings.simplefilter("ignore", FutureWarning)
        patch_tf2onnx()


WRITERS = {"keras": _write_keras, "savedmodel": _write_savedmodel, "tflite": _tflite_writer(None),
           "tflite-fp16": _tflite_writer("float16"), "tflite-int8": _tflite_writer("int8"), "onnx": _write_onnx}


# --- runners: (path, inputs) -> output array ------------------------------------------------------

def _run_keras(path, inputs):
    model = keras.models.load_model(path)
    return np.asarray(model(inputs if len(inputs) > 1 else inputs[0], training=False))


def _run_savedmodel(path, inputs, endpoint="serve"):
    loaded = tf.saved_model.load(str(path))
    return getattr(loaded, endpoint)(*[tf.constant(x) for x in inputs]).numpy()


def _run_tflite(path, inputs):
    import warnings

    with warnings.catch_warnings():  # "use LiteRT's interpreter": it runs these same files
        warnings.simplefilter("ignore", UserWarning)
        interpreter = tf.lite.Interpreter(model_path=str(path))
    runner = interpreter.get_signature_runner()  # inputs by name: "images", or "input_0", "input_1", ...
    names = ["images"] if len(inputs) == 1 else [f"input_{i}" for i in range(len(inputs))]
    (output,) = runner(**dict(zip(names, inputs))).values()
    return output


def _run_onnx(path, inputs):
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    return session.run(None, dict(zip(names, inputs)))[0]


RUNNERS = {"keras": _run_keras, "savedmodel": _run_savedmodel, "tflite": _run_tflite, "tflite-fp16": _run_tflite,
           "tflite-int8": _run_tflite, "onnx": _run_onnx}


def _remove(path):
    if Path(path).is_dir():
        shutil.rmtree(path)
    elif Path(path).exists():
        Path(path).unlink()


def check_parity(fmt, reference, output, path):
    """``{"max_abs_error", "mean_abs_error", "tolerance"}`` of an export's output against the Keras
    model's; deletes ``path`` and raises :class:`ExportParityError` beyond the format's tolerance."""
    output = np.asarray(output, np.float32)
    if output.shape != reference.shape:
        _remove(path)
        raise ExportParityError(f"{path} ({fmt}) gives shape {output.shape}, the Keras model {reference.shape}; "
                                "the file was deleted")
    difference = np.abs(output - reference)
    spread = float(np.mean(np.abs(reference - reference.mean())))  # how much the true output varies
    figures = {"max_abs_error": float(difference.max()), "mean_abs_error": float(difference.mean()),
               "tolerance": TOLERANCE[fmt], "reference_spread": spread}
    # Within the tolerance, and (a bound a constant or unrelated output cannot meet when the true
    # output varies) the mean error at most half the output's own mean deviation.
    relative_ok = spread < 1e-3 or figures["mean_abs_error"] <= 0.5 * spread
    if not (figures["max_abs_error"] <= TOLERANCE[fmt] and relative_ok):  # also NaN
        _remove(path)
        raise ExportParityError(
            f"{path} ({fmt}) differs from the Keras model by up to {figures['max_abs_error']:.3g} (mean "
            f"{figures['mean_abs_error']:.3g}; tolerance {TOLERANCE[fmt]:g}, and a mean under half the output's "
            f"spread {spread:.3g}) on the test image: it does not compute what the generator computes, so it was "
            "deleted. Report it with the export.json of a working format.")
    return figures


def _fixed_size(model, size):
    """The fixed ``(H, W)`` of a TFLite export: ``size`` (an int or pair) rounded up to the model's multiple."""
    multiple = size_multiple(model)
    height, width = (size, size) if isinstance(size, int) else size
    return -(-height // multiple) * multiple, -(-width // multiple) * multiple


def _export_one(model, fmt, path, fixed, inputs, side):
    """Write ``model`` as ``fmt`` at ``path``, run the file, check it; returns its ``export.json`` entry."""
    multiple, image = size_multiple(model), _image_input(model)
    _remove(path)
    try:
        WRITERS[fmt](model, path, fixed)
        output = RUNNERS[fmt](path, inputs)
    except Exception as error:  # noqa: BLE001 (converters and runtimes raise their own kinds)
        _remove(path)
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ExportError(f"{path} ({fmt}) could not be written and run ({type(error).__name__}: {first[:300]}); "
                          "nothing unchecked was kept") from error
    reference = np.asarray(_inference(model)(*[tf.constant(x) for x in inputs]))
    figures = check_parity(fmt, reference, output, path)
    how = {"path": path.name, **figures,
           "input": (f"float32 (1, {fixed[0]}, {fixed[1]}, C) only" if fmt.startswith("tflite") and image else
                     "float32 (N, H, W, C), H and W multiples of size_multiple" if image else "float32 vectors")}
    if fmt.startswith("tflite") and image:
        how["fixed_size"] = list(fixed)
    if fmt == "savedmodel" and image:
        odd = parity_inputs(model, side + multiple // 2 + 1, side + multiple + 3)[0]
        how["any_size"] = check_parity("savedmodel any size", translate_batch(model, odd).numpy(),
                                       _run_savedmodel(path, [odd], endpoint="translate"), path)
        how["input"] = ("serving_default/translate: float32 (N, H, W, C) of any H and W (padded and cropped "
                        "inside); serve: H and W multiples of size_multiple")
    return how


def export_models(generators, output_dir, family, formats=DEFAULT_FORMATS, size=256, overwrite=False, log=print,
                  input_description=None):
    """Write each generator in each format into ``output_dir``, check each file's parity, and write
    ``export.json``; returns that record. ``size`` is the TFLite exports' fixed side (or ``(H, W)``);
    ``input_description`` says how a generator's input channels are made when they are not an image
    (pix2pixHD's one-hot label maps), recorded as each generator's ``input_channels``.

    Refuses before writing when a file exists, unless ``overwrite``. When a format fails
    (:class:`ExportError`), its file is deleted and ``export.json`` records the files checked so far."""
    output_dir = Path(output_dir)
    formats = tuple(formats)
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown export format(s) {', '.join(unknown)}; choose from {', '.join(FORMATS)}")
    paths = [output_dir / file_name(n, f) for n in generators for f in formats]
    clashes = [p for p in paths if p.exists()]
    if clashes and not overwrite:
        raise FileExistsError(f"{clashes[0]} already exists; nothing was written. Choose another --output or pass --overwrite.")
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "export.json").unlink(missing_ok=True)  # an earlier export's record would describe replaced files
    record = {"family": family, "input_range": [-1.0, 1.0], "layout": "NHWC", "dtype": "float32",
              "onnx_opset": ONNX_OPSET if "onnx" in formats else None, "generators": {}}
    try:
        for name, model in generators.items():
            multiple, image = size_multiple(model), _image_input(model)
            fixed = _fixed_size(model, size)
            side = -(-max(PARITY_SIZE, 2 * multiple) // multiple) * multiple  # reflection padding needs 2 multiples
            any_size_inputs, fixed_inputs = parity_inputs(model, side, side), parity_inputs(model, *fixed)
            entry = record["generators"][name] = {
                "size_multiple": multiple, "channels_in": model.inputs[0].shape[-1] if image else None,
                "channels_out": model.output_shape[-1], "inputs": {t.name: list(t.shape[1:]) for t in model.inputs},
                "files": {}}
            if input_description:
                entry["input_channels"] = input_description
            for fmt in formats:
                path = output_dir / file_name(name, fmt)
                inputs = fixed_inputs if fmt.startswith("tflite") else any_size_inputs
                how = entry["files"][fmt] = _export_one(model, fmt, path, fixed, inputs, side)
                log(f"exported {path} ({fmt}): max |difference| to the Keras model {how['max_abs_error']:.2g} "
                    f"(tolerance {how['tolerance']:g})")
    finally:
        if any(entry["files"] for entry in record["generators"].values()):
            (output_dir / "export.json").write_text(json.dumps(record, indent=2) + "\n")
    return record
