"""An offline labelled dataset for pix2pixHD: real photo crops, their label maps and instance maps.

The photos are crops of the pictures scikit-image ships (:func:`.demo.photo_crops`: train crops
from the left two thirds of each picture, test crops from the right third, so the held-out split
holds pixels never trained on). Each crop is segmented by colour: after a light blur, every pixel
takes the class of the nearest colour of one fixed codebook (the centres of a 6-means of the
training pixels, rounded), so class k is the same colour family in every image and the photo is
a learnable function of its label map (plus texture). The classes ``slate`` and ``orange`` are
countable: each connected region of one of them is an instance, id ``class * 1000 + k``
(k = 1, 2, ... in scan order, at most 999) as in Cityscapes' ``*_instanceIds.png``; the other
classes' instance id is the class id. Instance maps are 16-bit PNGs.

``demo-labels`` (:func:`demo_labels_folder`) is this dataset written once into the cache.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import numpy as np

from tfgan_translate.data.cache import cache_dir
from tfgan_translate.data.demo import photo_crops

LABELLED_DEMO = "demo-labels"  # its --dataset name
DEMO_VERSION = 1  # part of the cached folder's name: bump when the content changes
#: (name, codebook colour, countable) of each class id.
CLASSES = (
    ("dark", (76, 37, 28), False),
    ("brown", (128, 97, 77), False),
    ("tan", (163, 136, 119), False),
    ("pale", (202, 192, 187), False),
    ("slate", (58, 70, 97), True),
    ("orange", (193, 83, 49), True),
)
_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry", "motorcycle_left",
           "motorcycle_right")
_MAX_OBJECTS = 999  # instance ids class * 1000 + k stay unique with k < 1000


def write_demo_labelled(root, size=32, train=300, test=50, seed=0) -> int:
    """Write the demo in the reference layout (``train_label/``, ``train_inst/``, ``train_img/``,
    ``test_*``, ``classes.json``) under ``root`` and return its ``label_nc``.

    ``seed`` picks the crops: the same seed writes the same files. ``classes.json`` holds
    ``label_nc`` and each class's name, codebook colour, mean training colour and countability.

    Example:
        >>> label_nc = write_demo_labelled("/tmp/demo-labels", size=32)
        >>> ds = labelled_dataset("/tmp/demo-labels", label_nc=label_nc, image_size=32)
    """
    from PIL import Image

    root = Path(root)
    means = None
    for split, count in (("train", train), ("test", test)):
        photos = photo_crops(_PHOTOS, count, size, split, seed_offset=seed)
        labels = segment(photos)
        if split == "train":
            means = [photos[labels == k].mean(0).round(1).tolist() if (labels == k).any() else None
                     for k in range(len(CLASSES))]
        folders = [root / f"{split}_{name}" for name in ("label", "inst", "img")]
        for folder in folders:
            folder.mkdir(parents=True, exist_ok=True)
        for i, (photo, label) in enumerate(zip(photos, labels)):
            name = f"{i:04d}.png"
            Image.fromarray(label.astype(np.uint8)).save(folders[0] / name)
            Image.fromarray(instances(label).astype(np.uint16)).save(folders[1] / name)
            Image.fromarray(photo).save(folders[2] / name)
    classes = [{"id": k, "name": name, "codebook_colour": list(colour), "mean_colour": means[k],
                "countable": countable} for k, (name, colour, countable) in enumerate(CLASSES)]
    (root / "classes.json").write_text(json.dumps(
        {"label_nc": len(CLASSES), "classes": classes, "size": size, "train": train, "test": test, "seed": seed,
         "instance_ids": "class * 1000 + k (k = 1..999) for countable classes, else the class id"}, indent=1))
    return len(CLASSES)


def segment(photos: np.ndarray) -> np.ndarray:
    """Class ids ``uint8 [N, H, W]`` of ``uint8 [N, H, W, 3]`` photos: the nearest codebook colour
    of each pixel after a Gaussian blur (sigma 1 px per 32 px), so regions are not speckled."""
    from scipy import ndimage

    sigma = photos.shape[1] / 32
    smooth = ndimage.gaussian_filter(photos.astype(np.float32), (0, sigma, sigma, 0))
    codebook = np.array([colour for _, colour, _ in CLASSES], np.float32)
    distances = ((smooth[..., None, :] - codebook) ** 2).sum(-1)
    return distances.argmin(-1).astype(np.uint8)


def instances(label: np.ndarray) -> np.ndarray:
    """Instance ids ``int32 [H, W]`` of one label map: ``class * 1000 + k`` for the k-th connected
    region (4-neighbours) of a countable class, the class id elsewhere."""
    from scipy import ndimage

    ids = label.astype(np.int32)
    for k, (_, _, countable) in enumerate(CLASSES):
        if countable:
            regions, _ = ndimage.label(label == k)
            ids = np.where(regions > 0, k * 1000 + np.minimum(regions, _MAX_OBJECTS), ids)
    return ids


def demo_labels_folder(size=32) -> Path:
    """The folder of ``demo-labels`` (300 train, 50 test crops of ``size`` px), written on first use
    into ``$TFGAN_TRANSLATE_CACHE`` or ``~/.cache/tfgan_translate``."""
    cache = cache_dir()
    folder = cache / f"{LABELLED_DEMO}-v{DEMO_VERSION}-{size}px"
    if (folder / "classes.json").is_file():
        return folder
    cache.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=cache))  # never a half-written folder
    try:
        write_demo_labelled(staging, size=size)
        try:
            staging.rename(folder)
        except OSError:  # another process wrote it first
            if not (folder / "classes.json").is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder
