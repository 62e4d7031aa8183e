"""``tfgan-translate serve``: a local web app (Gradio) that translates uploaded images.

Upload an image, pick the direction (two-generator runs such as CycleGAN), see the translation
beside it and download it as a PNG. The app translates exactly as ``translate`` does: the same
reading of the file (alpha on white, the generator's channels), inference mode, the same
padding to the generator's size multiple and cropping back, so the download equals
``translate``'s output for the same file. It listens on 127.0.0.1 unless told otherwise.

A run that translates label maps (its family's ``map_inputs`` are not ``None``) gets another app:
upload a label map (a one-channel PNG of class ids) and, when the run uses them, its instance map
(a 16-bit PNG of instance ids); runs with styles also take the styles ``CLASS=K, CLASS=K`` and the
seed of the styles drawn for the other classes. The photo is the one of ``translate --run-dir RUN
--input LABELS --instances INSTANCES --feature-cluster CLASS=K --style-seed SEED``, and a client
calls it as ``Client(url).predict(handle_file("labels.png"), handle_file("instances.png"), 0,
"4=1", api_name="/translate_labels")`` (``None`` for no instance map, ``""`` for drawn styles).

Gradio is an install extra (``pip install 'tfgan_translate[app]'``); nothing else imports this.
"""

import os
import re

from . import inference
from .image_files import quantize

API_NAME = "translate"  # the endpoint a client calls: Client(url).predict(image, direction, api_name="/translate")
LABELS_API_NAME = "translate_labels"  # label-map runs' endpoint: Client(url).predict(labels, instances or None,
#                                       style seed, "CLASS=K, ...", api_name="/translate_labels")


class AppError(ValueError):
    """The app cannot start (no Gradio, a run that does not translate); the message says what to do."""


def _gradio():
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home from an offline machine
    try:
        import gradio
    except ImportError:
        raise AppError("serve needs Gradio: pip install 'tfgan_translate[app]' (or pip install gradio)") from None
    return gradio


def load_models(run_dir=None, model=None):
    """``({direction: generator}, title, maps)`` of a run folder or a ``.keras`` generator file;
    ``maps`` is the run's ``MapInputs`` when it translates label maps, else ``None``."""
    if model is not None:
        generator = inference.load_generator_file(model)
        if len(generator.inputs) != 1:
            raise AppError(f"--model {model} takes {len(generator.inputs)} inputs (noise and codes): it generates "
                           "images, it does not translate them")
        return {"AtoB": generator}, os.path.basename(str(model)), None
    from . import runs

    family, config, generators, _ = runs.load_trained(run_dir)
    runs.refuse_generative(family)
    try:
        maps = family.map_inputs(config, run_dir) if family.map_inputs is not None else None
    except ValueError as error:  # e.g. the styles of the run are missing
        raise AppError(str(error)) from None
    models = {direction: generators[name] for direction, name in family.directions.items()}
    return models, f"{family.name}: {os.path.basename(os.path.normpath(str(run_dir)))}", maps


def translate_upload(models, path, direction):
    """The translation of the uploaded file ``path`` as uint8 pixels, or ``ValueError`` saying
    what is wrong with the upload (no file, not an image, an unknown direction)."""
    from PIL import UnidentifiedImageError

    if not path:
        raise ValueError("upload an image first")
    if direction not in models:
        raise ValueError(f"this model translates {' and '.join(models)}, not {direction!r}")
    generator = models[direction]
    import tensorflow as tf

    try:
        image = inference.read_image(path, generator.input_shape[-1])
    except (UnidentifiedImageError, OSError, ValueError, tf.errors.OpError):
        raise ValueError(f"{os.path.basename(str(path))} is not an image this app can read; upload a PNG, JPEG, "
                         "WebP, BMP or TIFF file") from None
    pixels = quantize(inference.translate_array(generator, image))  # translate's 8-bit rounding
    return pixels[..., 0] if pixels.shape[-1] == 1 else pixels


def parse_styles(maps, text):
    """The styles box ``"CLASS=K, CLASS=K"`` -> ``{class: cluster}`` (``None`` when empty), checked
    against the run's styles; ``ValueError`` saying what is wrong."""
    items = [item.strip() for item in re.split(r"[,;\n]", str(text or "")) if item.strip()]
    if not items:
        return None
    if not maps.has_styles:
        raise ValueError("this run has no styles to choose (it was trained without instance features): leave "
                         "the styles empty")
    try:
        return maps.parse_choice(items)
    except ValueError as error:
        raise ValueError(f"styles: {error}") from None


def translate_labels(generator, maps, label_path, instance_path=None, seed=0, styles=""):
    """The photo of an uploaded label map (+ instance map) with the chosen ``styles`` and ``seed``
    as uint8 pixels, computed as ``translate --input LABELS --instances ... --feature-cluster ...
    --style-seed SEED`` does; ``ValueError`` saying what is wrong with the upload."""
    from PIL import UnidentifiedImageError
    import tensorflow as tf

    if not label_path:
        raise ValueError("upload a label map first (a one-channel PNG of class ids)")
    if maps.needs_instances and not instance_path:
        raise ValueError("this run uses instance maps: upload the label map's instance map too (a one-channel PNG "
                         "of instance ids, 16-bit for ids above 255, the size of the label map)")
    try:
        seed = 0 if seed is None or seed == "" else float(seed)
    except (TypeError, ValueError):
        raise ValueError(f"the style seed must be a whole number >= 0, got {seed!r}") from None
    if seed < 0 or seed != int(seed):
        raise ValueError(f"the style seed must be a whole number >= 0, got {seed:g}")
    choice = parse_styles(maps, styles)
    uploads = [str(path) for path in (label_path, instance_path) if path]
    try:
        image = maps.compose(label_path, instance_path or None, choice=choice, seed=int(seed))
    except (UnidentifiedImageError, OSError, ValueError, tf.errors.OpError) as error:
        message = inference.first_line(error)
        for path in uploads:  # the uploads' names, not the server's temporary folders
            message = message.replace(path, os.path.basename(path))
        if isinstance(error, UnidentifiedImageError):
            message += ": upload the maps as PNG files"
        raise ValueError(message) from None
    try:
        translated = inference.translate_array(generator, image)
    except (tf.errors.OpError, ValueError) as error:
        raise ValueError(f"{os.path.basename(str(label_path))} could not be translated "
                         f"({inference.first_line(error)})") from None
    pixels = quantize(translated)  # translate's 8-bit rounding
    return pixels[..., 0] if pixels.shape[-1] == 1 else pixels


def build_app(models, title="tfgan-translate", maps=None):
    """The Gradio ``Blocks`` app for ``{direction: generator}``; with ``maps`` (a run that translates
    label maps), the label-map app of its first direction's generator."""
    if maps is not None:
        return build_labels_app(models[next(iter(models))], maps, title)
    gr = _gradio()
    directions = list(models)

    def run(path, direction):
        try:
            return translate_upload(models, path, direction or directions[0])
        except ValueError as error:
            raise gr.Error(str(error), title="Cannot translate this upload", print_exception=False) from None

    with gr.Blocks(title=title) as app:
        gr.Markdown(f"## {title}\nUpload an image (any size); the translation runs in inference mode, "
                    "as `tfgan-translate translate` does, and can be downloaded as a PNG.")
        with gr.Row():
            upload = gr.File(label="image to translate", file_types=["image"], type="filepath")
            shown = gr.Image(label="input", type="filepath", interactive=False)
            output = gr.Image(label="translation", type="numpy", format="png", interactive=False)
        direction = gr.Radio(directions, value=directions[0], label="direction", visible=len(directions) > 1)
        button = gr.Button("Translate", variant="primary")
        upload.change(_preview, inputs=upload, outputs=shown, api_name=False)
        button.click(run, inputs=[upload, direction], outputs=output, api_name=API_NAME)
    return app


def build_labels_app(generator, maps, title="tfgan-translate"):
    """The Gradio ``Blocks`` app of a run that translates label maps (``maps``: its ``MapInputs``)."""
    gr = _gradio()

    def run(label_path, instance_path, seed, styles):
        try:
            return translate_labels(generator, maps, label_path, instance_path, seed, styles)
        except ValueError as error:
            raise gr.Error(str(error), title="Cannot translate this upload", print_exception=False) from None

    def preview(path):
        try:
            return quantize(maps.coloured(path)) if path else None
        except (OSError, ValueError):  # not a label map: the message comes on Translate
            return None

    required = "required by this run" if maps.needs_instances else "optional"
    counts = maps.style_counts()
    offered = ", ".join(f"class {c}: 0..{k - 1}" for c, k in counts.items()) or "none"
    with gr.Blocks(title=title) as app:
        gr.Markdown(f"## {title}\nUpload a label map (a one-channel PNG of class ids 0..{maps.num_classes - 1}, any "
                    "size) and its instance map; the photo is made in inference mode, as `tfgan-translate translate "
                    "--instances ... --feature-cluster ... --style-seed ...` does, and can be downloaded as a PNG.")
        with gr.Row():
            labels = gr.File(label="label map (PNG of class ids)", file_types=[".png", "image"], type="filepath")
            instances = gr.File(label=f"instance map (16-bit PNG of instance ids; {required})",
                                file_types=[".png", "image"], type="filepath")
        with gr.Row():
            shown = gr.Image(label="label map (coloured)", type="numpy", interactive=False)
            output = gr.Image(label="translation", type="numpy", format="png", interactive=False)
        with gr.Row(visible=maps.has_styles):
            styles = gr.Textbox(label="styles", placeholder="CLASS=K, CLASS=K",
                                info=f"a style cluster per class (styles of this run: {offered}); the other classes "
                                "draw a style per instance with the seed")
            seed = gr.Number(value=0, precision=0, minimum=0, label="style seed")
        button = gr.Button("Translate", variant="primary")
        labels.change(preview, inputs=labels, outputs=shown, api_name=False)
        button.click(run, inputs=[labels, instances, seed, styles], outputs=output, api_name=LABELS_API_NAME)
    return app


def _preview(path):
    """The uploaded file for the input panel when it is an image, else nothing (the error comes on Translate)."""
    from PIL import Image, UnidentifiedImageError

    if not path:
        return None
    try:
        with Image.open(path) as image:
            image.verify()
    except (UnidentifiedImageError, OSError):
        return None
    return path


def launch(run_dir=None, model=None, host="127.0.0.1", port=7860, block=True):
    """Start the app of a run folder or a model file on ``host:port``; blocks until Ctrl-C unless
    ``block`` is false, when it returns ``(app, url)`` with the server running."""
    models, title, maps = load_models(run_dir, model)
    app = build_app(models, title, maps)
    print(f"serving {title} on http://{host}:{port} (Ctrl-C stops it)")
    app.launch(server_name=host, server_port=port, prevent_thread_lock=not block, share=False, quiet=not block)
    return app, f"http://{host}:{port}/"
