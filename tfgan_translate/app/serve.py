"""``tfgan-translate serve``: a local web app (Gradio) that translates uploaded images.

Upload an image, pick the direction (two-generator runs such as CycleGAN), see the translation
beside it and download it as a PNG. The app translates exactly as ``translate`` does: the same
reading of the file (alpha on white, the generator's channels), inference mode, the same
padding to the generator's size multiple and cropping back, so the download equals
``translate``'s output for the same file. It listens on 127.0.0.1 unless told otherwise.

Gradio is an install extra (``pip install 'tfgan_translate[app]'``); nothing else imports this.
"""

import os


from . import inference
from .image_files import quantize

API_NAME = "translate"  # the endpoint a client calls: Client(url).predict(image, direction, api_name="/translate")


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
    """``({direction: generator}, title)`` of a run folder or a ``.keras`` generator file."""
    if model is not None:
        generator = inference.load_generator_file(model)
        if len(generator.inputs) != 1:
            raise AppError(f"--model {model} takes {len(generator.inputs)} inputs (noise and codes): it generates "
                           "images, it does not translate them")
        return {"AtoB": generator}, os.path.basename(str(model))
    from . import runs

    family, config, generators, _ = runs.load_trained(run_dir)
    runs.refuse_generative(family)
    if family.map_inputs is not None and family.map_inputs(config, clusters={}) is not None:
        raise AppError(f"{run_dir} translates label maps (with their instance maps and styles), not uploaded "
                       "photos: use tfgan-translate translate --run-dir RUN --input LABELS --instances INSTANCES")
    models = {direction: generators[name] for direction, name in family.directions.items()}
    return models, f"{family.name}: {os.path.basename(os.path.normpath(str(run_dir)))}"


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


def build_app(models, title="tfgan-translate"):
    """The Gradio ``Blocks`` app for ``{direction: generator}``."""
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
    models, title = load_models(run_dir, model)
    app = build_app(models, title)
    print(f"serving {title} on http://{host}:{port} (Ctrl-C stops it)")
    app.launch(server_name=host, server_port=port, prevent_thread_lock=not block, share=False, quiet=not block)
    return app, f"http://{host}:{port}/"
