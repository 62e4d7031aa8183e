"""A StackGAN run's texts: the text encoder kept in its folder, drawing from captions, and the
demo's figures (how often a drawn image shows what its held-out caption says).

A run trained on captions given as text keeps the encoder of its training captions in
``RUN/text_encoder.json`` (written when training starts), so that ``tfgan-translate generate``
encodes new captions exactly as training did, without the dataset. A run trained on the
reference's precomputed char-CNN-RNN embeddings has no encoder (the char-CNN-RNN model is not
available offline): it draws from embeddings (``generate --embeddings FILE.npy``).
"""

import warnings
from pathlib import Path

import numpy as np

from ..data.text_encoder import BagOfWordsEncoder

TEXT_ENCODER_FILE = "text_encoder.json"


def save_text_encoder(source, run_dir, config):
    """``Family.before_training``: keep the text encoder of ``source``'s captions (of
    ``config.embedding_dim`` values) in the run folder (once: a resumed run keeps the encoder it
    was trained with)."""
    encoder = source.caption_encoder(config.embedding_dim)
    if encoder is None:
        return {}
    path = Path(run_dir) / TEXT_ENCODER_FILE
    if path.exists():
        kept = BagOfWordsEncoder.load(path)
        if kept.vocabulary != encoder.vocabulary or kept.dim != encoder.dim:
            new = sorted(set(encoder.vocabulary) - set(kept.vocabulary))
            return {"text_encoder": f"{path} (the encoder this run started with) is kept for generate; the captions "
                                    f"of {source.value} have another vocabulary, so {len(new)} of their words "
                                    f"({', '.join(new[:5])}{', ...' if len(new) > 5 else ''}) train here but are "
                                    "left out when drawing"}
        return {}
    path.parent.mkdir(parents=True, exist_ok=True)
    encoder.save(path)
    return {"text_encoder": f"text encoder ({len(encoder.vocabulary)} words) saved in {path}"}


def embed_captions(run_dir, captions):
    """The run's embeddings ``(N, D)`` of ``captions``; ``ValueError`` for a run without an encoder, an
    empty caption or one of only unknown words. Unknown words among known ones are left out, with a
    warning that names them."""
    path = Path(run_dir) / TEXT_ENCODER_FILE
    if not path.exists():
        raise ValueError(f"{run_dir} has no {TEXT_ENCODER_FILE}: it was trained on precomputed text embeddings "
                         "(the char-CNN-RNN pickles), which cannot be computed from a caption here; pass "
                         "--embeddings FILE.npy with the (N, D) embeddings of your captions")
    encoder = BagOfWordsEncoder.load(path)
    for caption in captions:
        unknown = encoder.unknown_words(caption)
        if unknown and len(unknown) < len(encoder.tokens(caption)):
            warnings.warn(f"caption {caption!r}: {', '.join(map(repr, unknown))} "
                          f"{'is not a word' if len(unknown) == 1 else 'are not words'} of the run's text encoder "
                          "(its training captions) and left out")
    return encoder.encode(captions)


def describe_inputs(config):
    """What an exported generator's two inputs are (``export.json``'s ``input_channels``)."""
    parts = ["z"] + [f"eps of Stage-{'I' * (k + 1)}'s conditioning augmentation" for k in range(config.stage)]
    return (f"embedding: (N, {config.embedding_dim}) text embeddings (captions: {TEXT_ENCODER_FILE} beside this "
            f"file, as tfgan_translate.data.text_encoder.BagOfWordsEncoder.load(path).encode(captions)); noise: "
            f"(N, {config.noise_size}) standard normal, {config.noise_dim} of z, then "
            f"{config.condition_dim} of each eps ({', '.join(parts)}); output: (N, {config.image_size}, "
            f"{config.image_size}, 3) in [-1, 1]")


def run_files(run_dir):
    """The run's files that its exported generator needs: the text encoder (when it has one)."""
    path = Path(run_dir) / TEXT_ENCODER_FILE
    return [path] if path.exists() else []


DRAW_BATCH = 64  # images drawn per call of the generator: memory stays that of one batch


def draw(generator, embeddings, noise):
    """``TextToImage.draw``: ``{"Stage-I": ...}`` for a Stage-I generator, ``{"Stage-I": ...,
    "Stage-II": ...}`` for a Stage-II one (Stage-I's images of the same noise first), as NumPy
    arrays, drawn ``DRAW_BATCH`` at a time."""
    from . import stackgan

    stages = {"Stage-I": True, "Stage-II": False} if stackgan.is_stage2(generator) else {"Stage-I": False}
    return {title: np.concatenate([
        np.asarray(stackgan.generate(generator, embeddings[start:start + DRAW_BATCH], noise[start:start + DRAW_BATCH],
                                     stage1=stage1)) for start in range(0, len(embeddings), DRAW_BATCH)])
        for title, stage1 in stages.items()}


# -- the demo's figures -------------------------------------------------------------------------

def _scores(classifier, images, attributes):
    from ..metrics.caption_quality import attribute_accuracy

    return {k: round(float(v), 3) for k, v in attribute_accuracy(classifier, images, attributes).items()}


def held_out_report(trainer, captions_per_scene=2, seed=0):
    """How often the demo run's images show what held-out captions say (combinations of colour,
    shape, size and position never seen in training), judged by a classifier trained on the real
    scenes: Stage-I's and (for a Stage-II run) Stage-II's accuracy per attribute, next to real
    training scenes drawn at random for the asked captions (a generator that ignores the text)."""
    from ..data import captions as caption_data
    from ..metrics.caption_quality import random_image_baseline, train_attribute_classifier

    config = trainer.config
    encoder = caption_data.caption_encoder(caption_data.CAPTION_DEMO, dim=config.embedding_dim)
    test = caption_data.load_caption_split(caption_data.CAPTION_DEMO, "test", encoder=encoder,
                                           image_size=config.image_size)
    count = len(test.attributes)
    picks = np.arange(count * captions_per_scene) % test.embeddings.shape[1]
    scenes = np.repeat(np.arange(count), captions_per_scene)
    embeddings = test.embeddings[scenes, picks]
    attributes = np.asarray(test.attributes)[scenes]
    noise = np.random.default_rng(seed).standard_normal((len(scenes), config.noise_size)).astype(np.float32)
    drawn = draw(trainer.generator, embeddings, noise)
    report = {"held_out_captions": int(len(scenes)), "held_out_combinations": int(len(
        {tuple(row) for row in attributes.tolist()}))}
    for title, images in drawn.items():  # "Stage-I", "Stage-II"
        size = images.shape[1]
        classifier, judge = train_attribute_classifier(size)
        report[f"{title}_attribute_accuracy"] = _scores(classifier, images, attributes)
        report[f"{title}_random_image_accuracy"] = {
            k: round(float(v), 3) for k, v in random_image_baseline(classifier, size, attributes=attributes).items()}
        report[f"classifier_{size}px_test_accuracy"] = {k: round(float(v), 3) for k, v in judge.items()}
    report["stage"] = config.stage
    return report
