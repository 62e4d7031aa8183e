"""``tf.data`` input pipelines: every way users bring images, fast and safe against bad files.

Every entry point returns a ``tf.data.Dataset`` of dicts of float32 NHWC images in
[-1, 1] and takes the keyword options of :class:`Options` (``batch_size``, ``image_size``
or ``crop_size``, ``load_size``, ``preprocess``, ``training``, ``seed``, ``strict``, ...).

==============================  =====================================================
``tfds_unpaired(name, split)``  tfds ``cycle_gan/<name>`` -> ``{"a", "b"}`` (unpaired)
``unaligned_folder(root)``      ``ROOT/trainA``, ``trainB``, ... -> ``{"a", "b"}``
``aligned_folder(path)``        side-by-side ``A|B`` images -> ``{"a", "b"}`` (paired)
``single_folder(path)``         images to translate -> ``{"a", "path"}``
``demo_paired(task)``           offline pix2pix demo (edges2photo, gray2color)
``demo_unpaired(split)``        offline CycleGAN demo with a known answer
``labelled_dataset(root)``      pix2pixHD label maps (+ instance maps) and photos ->
                                ``{"label", "instance", "b"}`` (:mod:`.label_maps`)
``write_demo_labelled(root)``   offline labelled demo data with a held-out split
``load_caption_split(value)``   captioned images for StackGAN (:mod:`.captions`)
``resolve(value, kind)``        a CLI ``--dataset`` value -> training batches per epoch
                                and held-out splits (:mod:`.sources`)
==============================  =====================================================

Example:
    >>> from tfgan_translate import data
    >>> ds = data.aligned_folder("datasets/facades/train", direction="BtoA", batch_size=4)
    >>> images = data.to_uint8(next(iter(ds))["a"])  # back to displayable pixels
"""

from tfgan_translate.data.captions import (
    CAPTION_DEMO,
    CaptionDataError,
    CaptionSplit,
    caption_batches,
    caption_encoder,
    caption_layout,
    load_caption_split,
)
from tfgan_translate.data.decode import BadImageError, BadImageWarning, decode_image, decode_levels
from tfgan_translate.data.demo import demo_paired, demo_unpaired, psnr
from tfgan_translate.data.folders import (
    FolderLayoutError,
    aligned_folder,
    single_folder,
    unaligned_folder,
)
from tfgan_translate.data.label_demo import write_demo_labelled
from tfgan_translate.data.label_maps import (
    LabelledFiles,
    LabelMapError,
    labelled_dataset,
    labelled_files,
    labelled_layout,
    one_hot_labels,
    read_instance_map,
    read_label_map,
)
from tfgan_translate.data.options import PREPROCESS_MODES, Options
from tfgan_translate.data.preprocess import denormalize, normalize, to_uint8
from tfgan_translate.data.sources import DataSource, HeldOut, resolve
from tfgan_translate.data.text_encoder import BagOfWordsEncoder, CaptionError
from tfgan_translate.data.tfds_source import tfds_unpaired

__all__ = [
    "tfds_unpaired", "unaligned_folder", "aligned_folder", "single_folder",
    "demo_paired", "demo_unpaired", "resolve", "DataSource", "HeldOut",
    "Options", "PREPROCESS_MODES",
    "normalize", "denormalize", "to_uint8", "psnr", "decode_image", "decode_levels",
    "BadImageError", "BadImageWarning", "FolderLayoutError",
    "labelled_layout", "labelled_files", "LabelledFiles", "labelled_dataset", "one_hot_labels",
    "read_label_map", "read_instance_map", "write_demo_labelled", "LabelMapError",
]
