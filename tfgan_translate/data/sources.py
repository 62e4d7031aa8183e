"""One resolver from a ``--dataset`` value to data: training batches per epoch and held-out splits.

``train``, ``evaluate``, the demo and the notebooks all go through :func:`resolve`, so that a
value means the same thing everywhere:

==========================================  ==========================================
``demo-paired``, ``demo-gray2color``        offline pairs (edges -> photo, gray -> colour)
``demo-unpaired``                           offline colour mapping with a known answer
a folder with ``trainA/`` / ``trainB/``     two domains (held out: ``testA/``, ``testB/``)
any other folder                            side-by-side A|B images, directly or in
                                            ``train/`` (held out: ``test/`` or ``val/``)
a tfds CycleGAN name (``horse2zebra``)      ``cycle_gan/<name>`` (held out: testA/testB)
``digits``, ``mnist``                       class-labelled digits (offline / tfds)
a folder with ``train_label/`` or           label maps, instance maps and photos for
``gtFine/`` + ``leftImg8bit/``              pix2pixHD (held out: ``test_*`` or ``val``)
``demo-labels``                             offline label maps of real photos (pix2pixHD)
a folder with ``train/filenames.pickle``    text-image pairs for StackGAN: the reference's
+ ``char-CNN-RNN-embeddings.pickle``, or    precomputed embeddings, or captions in text
``train/images/`` + ``train/text/``         files (held out: ``test/``)
``demo-captions``                           offline captioned shapes with a known answer
==========================================  ==========================================

The kind of data a family takes (``paired``, ``unpaired``, ``labels``, ``captions``) decides
what is accepted: paired families refuse two-domain layouts, unpaired ones take pairs as two
domains, labelled ones take only digits, captioned ones only text-image pairs.
"""

import dataclasses
from pathlib import Path

from . import digits
from .captions import CAPTION_DEMO, caption_batches, caption_encoder, caption_layout, load_caption_split
from .demo import DEMO_DATASETS, demo_paired, demo_unpaired
from .label_demo import LABELLED_DEMO, demo_labels_folder
from .label_maps import held_out_split, labelled_dataset, labelled_layout
from .folders import aligned_folder, single_folder, unaligned_folder
from .pipeline import check_direction
from .tfds_source import check_cycle_gan_name, tfds_split_images, tfds_unpaired

KINDS = ("paired", "unpaired", "labels", "captions")
DEMO_TASKS = {"demo-paired": "edges2photo", "demo-gray2color": "gray2color"}
EPOCH_SEED = 100_003  # epoch e of a run with seed s shuffles with s * EPOCH_SEED + e


@dataclasses.dataclass(frozen=True)
class HeldOut:
    """A held-out split, as fresh-dataset factories.

    ``pairs()`` yields ``{"a", "b"}`` batches (paired data); otherwise ``inputs()`` yields
    image batches of the input domain and ``targets()`` of the output domain.
    """

    dataset: str
    split: str
    paired: bool
    pairs: object = None
    inputs: object = None
    targets: object = None


def _is_image_folder(path):
    return path.is_dir() and any(p.is_file() for p in path.iterdir())


def _looks_like_a_path(name):
    return name.startswith((".", "/", "~")) or ("/" in name and not name.startswith("cycle_gan/"))


def _flip(direction):
    return {"AtoB": "BtoA", "BtoA": "AtoB"}[direction]


class DataSource:
    """A ``--dataset`` value checked against the kind of data a family takes.

    Args:
        value: the ``--dataset`` value (see the module docstring).
        kind: ``paired``, ``unpaired`` or ``labels`` (``Family.data``).
        data_dir: the tfds data folder.
        strict: stop at the first unreadable image instead of skipping it.
    """

    def __init__(self, value, kind, data_dir=None, strict=False):
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}")
        self.value, self.kind, self.data_dir, self.strict = str(value), kind, data_dir, strict
        self.origin = self._classify()

    def _classify(self):
        value, path = self.value, Path(self.value)
        if value in digits.DATASETS:
            if self.kind != "labels":
                raise ValueError(f"--dataset {value} holds labelled digits, for cgan and infogan; "
                                 "image translation needs images (a folder, a demo-* or a tfds CycleGAN dataset)")
            return "digits"
        if self.kind == "labels":
            raise ValueError(f"--dataset {value!r}: the class-conditional families train on "
                             f"{' or '.join(digits.DATASETS)}")
        captioned = value == CAPTION_DEMO or (path.is_dir() and caption_layout(path) is not None)
        if self.kind == "captions":
            if not captioned:
                raise ValueError(
                    f"--dataset {value!r} holds no captioned images: text-to-image families train on {CAPTION_DEMO}, "
                    "a folder with train/filenames.pickle + train/char-CNN-RNN-embeddings.pickle (the StackGAN "
                    "birds/flowers layout) or train/images/ + train/text/<image name>.txt (a caption per line)")
            return "captions"
        if captioned:
            raise ValueError(f"--dataset {value} holds captioned images, for text-to-image families (stackgan); "
                             f"this family needs {self.kind} images")
        if value == LABELLED_DEMO or ((Path(value).is_dir()) and labelled_layout(value)):
            if self.kind != "paired":
                raise ValueError(f"--dataset {value} holds label maps, which pix2pixhd translates (with --label-nc); "
                                 f"this family needs {self.kind} images")
            return "labelled"
        if value in DEMO_DATASETS:
            if value == "demo-unpaired" and self.kind == "paired":
                raise ValueError("this family needs paired data; demo-unpaired has none (use demo-paired)")
            return "demo"
        if value.startswith("demo-"):
            raise ValueError(f"unknown demo dataset {value!r}; choose one of {', '.join(DEMO_DATASETS)}")
        if path.exists() or _looks_like_a_path(value):
            if not path.is_dir():
                raise ValueError(f"--dataset {value}: no such folder "
                                 "(expected trainA/ + trainB/, or side-by-side A|B images)")
            if any((path / d).is_dir() for d in ("trainA", "trainB", "testA", "testB")):
                if self.kind == "paired":
                    raise ValueError(
                        f"this family needs paired data, but {value} has the unpaired trainA/trainB layout; "
                        "give a folder of side-by-side A|B images")
                return "domains"
            if self.kind == "unpaired" and not (_is_image_folder(path) or _is_image_folder(path / "train")):
                raise ValueError(
                    f"--dataset {value} holds neither trainA/ + trainB/ (a folder of images per domain, with testA/ "
                    "+ testB/ for evaluation) nor side-by-side A|B images; put the two domains' photos in trainA/ "
                    "and trainB/")
            return "pairs"
        check_cycle_gan_name(value)
        if self.kind == "paired":
            raise ValueError("this family needs paired data; tfds cycle_gan datasets are unpaired")
        return "tfds"

    @property
    def paired(self):
        """Whether the training batches pair each input with its target."""
        return self.origin in ("demo", "pairs", "labelled") and self.value != "demo-unpaired"

    @property
    def folder(self):
        """The folder of a labelled dataset (``demo-labels`` is written into the cache on first use)."""
        return demo_labels_folder() if self.value == LABELLED_DEMO else Path(self.value)

    def labelled(self, split, labels, options):
        """A labelled dataset's ``split`` (``"train"`` or its held-out one) for ``labels = (label_nc,
        use_instance)`` (a config's ``label_data``; ``None`` for a family without label maps), with
        the data ``options`` (``data.Options``)."""
        if self.origin != "labelled":
            raise ValueError(f"--dataset {self.value} holds no label maps")
        if labels is None:
            raise ValueError(f"--dataset {self.value} holds label maps, which pix2pixhd translates (with --label-nc); "
                             "this family translates images: give A|B image pairs")
        label_nc, use_instance = labels
        if not label_nc:
            raise ValueError(f"--dataset {self.value} holds label maps: pix2pixhd translates them with --label-nc N "
                             "(the number of classes: 35 for Cityscapes, demo-labels' is in its classes.json)")
        return labelled_dataset(self.folder, split, label_nc=label_nc, use_instance=use_instance,
                                strict=self.strict, **options)

    def _refuse_labels(self, labels):
        if labels and labels[0] and self.origin != "labelled":
            raise ValueError(f"label_nc {labels[0]} needs label maps, and --dataset {self.value} holds images: give a "
                             "folder in the reference layout (train_label/, train_inst/, train_img/) or Cityscapes' "
                             "(gtFine/, leftImg8bit/), or demo-labels; or set label_nc=0 to translate images")

    # -- training ------------------------------------------------------------------------

    def captions(self, split, image_size, embedding_dim=1024):
        """The ``data.captions.CaptionSplit`` ``split`` (``"train"`` or ``"test"``) of captioned data,
        captions given as text embedded in ``embedding_dim`` values (by :meth:`caption_encoder`)."""
        if self.origin != "captions":
            raise ValueError(f"--dataset {self.value} holds no captioned images")
        return load_caption_split(self.value, split, encoder=self.caption_encoder(embedding_dim), image_size=image_size,
                                  strict=self.strict)

    def _maker(self, image_size, batch_size, direction, channels, shard=None, labels=None, jitter=True,
               embedding_dim=1024):
        options = dict(image_size=image_size, batch_size=batch_size, deterministic=True)
        if self.origin == "captions":
            check_direction(direction)
            if direction != "AtoB":
                raise ValueError("--direction is for image translation; text-to-image families have no direction")
            split = self.captions("train", image_size, embedding_dim)
            return lambda seed: caption_batches(split, image_size, batch_size, seed=seed, training=True, jitter=jitter,
                                                shard=shard)
        if shard is not None and self.origin != "digits":
            options.update(shard=shard)
        self._refuse_labels(labels)
        if self.origin == "labelled":
            check_direction(direction)
            if direction != "AtoB":
                raise ValueError("label maps translate one way (labels -> photo): leave --direction at AtoB")
            if isinstance(channels, tuple):
                options.update(channels_b=channels[1])
            return lambda seed: self.labelled("train", labels, dict(options, seed=seed))
        if isinstance(channels, tuple):  # (input, output) channels of a translating family's images
            if channels != (3, 3) and self.origin not in ("domains", "pairs"):
                if set(channels) - {1, 3}:
                    raise ValueError(f"--dataset {self.value} is RGB; channels other than 1 and 3 (got "
                                     f"{channels[0]} -> {channels[1]}) need image folders that hold them")
            options.update(channels=channels[0], channels_b=channels[1])
            channels = None
        path = Path(self.value)
        if self.origin == "digits":
            check_direction(direction)
            if direction != "AtoB":
                raise ValueError("--direction is for image translation; class-conditional families have no direction")
            if channels not in (None, 1):
                raise ValueError(f"--dataset {self.value} is grayscale: set channels=1 (got {channels})")
            return lambda seed: digits.digit_dataset(self.value, "train", image_size=image_size, batch_size=batch_size,
                                                     seed=seed, data_dir=self.data_dir)
        if self.origin == "demo" and self.value in DEMO_TASKS:
            return lambda seed: demo_paired(DEMO_TASKS[self.value], direction=direction, seed=seed, **options)
        if self.origin == "demo":
            return lambda seed: demo_unpaired(direction=direction, seed=seed, **options)
        if self.origin == "domains":
            return lambda seed: unaligned_folder(path, "train", direction=direction, seed=seed, strict=self.strict,
                                                 **options)
        if self.origin == "pairs":
            folder = path / "train" if _is_image_folder(path / "train") else path
            return lambda seed: aligned_folder(folder, direction=direction, seed=seed, strict=self.strict, **options)
        return lambda seed: tfds_unpaired(self.value, "train", direction=direction, data_dir=self.data_dir, seed=seed,
                                          **options)

    def training(self, image_size, batch_size, seed, direction="AtoB", channels=None, shard=None, labels=None,
                 jitter=True, embedding_dim=1024):
        """``(epoch -> tf.data.Dataset, steps_per_epoch)`` of the training split.

        Each epoch gets its own seed (``seed * 100_003 + epoch``), so the batches of an epoch
        are the same in a resumed run; only full batches are given. ``shard``: ``(worker,
        workers)`` of a multi-worker run (``distribute.worker_shard``): the batches hold only
        this worker's rows, which is what ``dataset_fn.per_worker`` then says (the digits,
        small arrays in memory, are not sharded: each worker keeps its rows of the whole batch).
        ``labels``: ``(label_nc, use_instance)`` of a config that translates label maps.
        ``jitter``: captioned data's random crop and mirror (``False`` when captions say left/right);
        ``embedding_dim``: the size of captions' embeddings when they are given as text.
        """
        make = self._maker(image_size, batch_size, direction, channels, shard, labels, jitter, embedding_dim)
        first = make(seed * EPOCH_SEED)
        if self.origin == "digits" and self.value == "digits":
            steps = len(digits.digits_arrays("train", image_size)[1]) // batch_size
        else:
            steps = int(first.cardinality())
            if steps < 1 and self.origin != "digits":
                steps = sum(1 for _ in first)
        if steps < 1:
            raise ValueError(f"--dataset {self.value} gives no full batch of {batch_size}; lower --batch-size")

        reuse_first = self.origin != "digits"  # as before the resolver: runs written then resume exactly

        def dataset_fn(epoch):
            return first if epoch == 0 and reuse_first else make(seed * EPOCH_SEED + int(epoch))

        dataset_fn.per_worker = shard is not None and self.origin != "digits"
        return dataset_fn, steps

    def caption_encoder(self, dim=1024):
        """The text encoder (of ``dim`` values) of captioned data given as text: the words of its training
        captions (``None`` for precomputed embeddings)."""
        return caption_encoder(self.value, dim=dim) if self.origin == "captions" else None

    # -- held out ------------------------------------------------------------------------

    def heldout(self, image_size, batch_size=16, direction="AtoB", channels=3, labels=None):
        """The held-out split for translating ``direction`` (``AtoB``: a -> b), at ``image_size``;
        ``channels`` is one count or the ``(input, target)`` pair; ``labels`` as in :meth:`training`
        (the pairs of a labelled dataset hold ``"label"`` (+ ``"instance"``) and ``"b"``)."""
        check_direction(direction)
        self._refuse_labels(labels)
        if self.origin == "labelled":
            if direction != "AtoB":
                raise ValueError("label maps translate one way (labels -> photo): evaluate AtoB")
            split = held_out_split(self.folder)
            options = dict(image_size=image_size, batch_size=batch_size, training=False, drop_remainder=False,
                           channels_b=channels[1] if isinstance(channels, tuple) else channels)
            return HeldOut(self.value, split, True, pairs=lambda: self.labelled(split, labels, options))
        if self.origin == "captions":
            raise ValueError(f"--dataset {self.value}: text-to-image runs are scored by their demo's attribute "
                             "classifier, not by a held-out translation")
        if self.origin == "digits":
            raise ValueError(f"--dataset {self.value}: digits have no held-out translation to score; "
                             "the class-conditional families are scored by their demo's classifier")
        options = dict(image_size=image_size, batch_size=batch_size, training=False, drop_remainder=False)
        channels_in, channels_out = channels if isinstance(channels, tuple) else (channels, channels)
        if self.origin == "demo":
            options.update(channels=channels_in, channels_b=channels_out)
        value, path = self.value, Path(self.value)
        if self.origin == "demo" and value in DEMO_TASKS:
            return HeldOut(value, "test", True,
                           pairs=lambda: demo_paired(DEMO_TASKS[value], "test", direction, **options))
        if self.origin == "demo":  # the test split pairs each input with its true translation
            return HeldOut(value, "test", True, pairs=lambda: demo_unpaired("test", direction, **options).map(
                lambda x: {"a": x["a"], "b": x["b_true"]}))
        folder_options = dict(options, channels=channels_in, channels_b=channels_out, strict=self.strict)
        target_options = dict(folder_options, channels=channels_out)
        domains = ("testA", "testB") if direction == "AtoB" else ("testB", "testA")
        if self.origin == "domains":
            missing = [d for d in domains if not (path / d).is_dir()]
            if missing:
                raise ValueError(f"--dataset {value}: no held-out {' and '.join(missing)} folder to evaluate on "
                                 "(the unpaired layout keeps its test images in testA/ and testB/)")
            source, target = (path / d for d in domains)
            return HeldOut(value, "/".join(domains), False,
                           inputs=lambda: single_folder(source, **folder_options).map(lambda x: x["a"]),
                           targets=lambda: single_folder(target, **target_options).map(lambda x: x["a"]))
        if self.origin == "pairs":
            split = next((s for s in ("test", "val") if (path / s).is_dir()), None)
            folder = path / split if split else path
            return HeldOut(value, split or path.name, True,
                           pairs=lambda: aligned_folder(folder, direction, **folder_options))
        tfds_options = {k: v for k, v in folder_options.items() if k not in ("strict", "channels_b")}
        return HeldOut(value, "/".join(domains), False,
                       inputs=lambda: tfds_split_images(value, domains[0], self.data_dir, **tfds_options),
                       targets=lambda: tfds_split_images(value, domains[1], self.data_dir,
                                                         **dict(tfds_options, channels=channels_out)))

    def heldout_for(self, direction, trained_direction="AtoB", **options):
        """The held-out split for a generator that translates ``direction`` of a run trained
        with the data direction ``trained_direction``."""
        check_direction(trained_direction)
        return self.heldout(direction=direction if trained_direction == "AtoB" else _flip(direction), **options)


def resolve(value, kind, data_dir=None, strict=False):
    """The :class:`DataSource` of a ``--dataset`` value for a family that takes ``kind`` data."""
    return DataSource(value, kind, data_dir=data_dir, strict=strict)
