"""Throughput of every tfgan_translate.data pipeline at 256 px, and of the bad-file check.

Run:  python benchmarks/data_pipeline.py [--batches 40] [--batch-size 8] [--size 256]

Each pipeline is built with the training defaults (resize to 286, random 256 crop, mirror),
warmed up for ``--warmup`` batches (enough to fill ``cache=True``'s cache of the 100 aligned
images), then timed over ``--batches`` batches. ``examples/s`` counts
``{"a", "b"}`` examples (or single images for ``single_folder``); ``images/s`` counts
every image decoded and jittered (two per paired or unpaired example). Sources:
- aligned: ../shared/data/person2contour/train (100 real 512 px wide JPEGs) when present,
  else generated side-by-side JPEGs of the same size;
- unaligned and single: generated folders of 64 JPEGs at 320x288 px;
- tfds: ``cycle_gan/horse2zebra`` under ``tfds.testing.mock_data`` (small random images);
- demo: the scikit-image crops, built at 256 px.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

try:
    from tfgan_translate import data
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tfgan_translate import data

from tfgan_translate.data import decode  # noqa: E402

PERSON2CONTOUR = Path(__file__).resolve().parents[2] / "shared" / "data" / "person2contour"


def photo_like(height, width, rng):
    """A smooth, JPEG-friendly colour image (random blobs), so decode costs are realistic."""
    y, x = np.mgrid[:height, :width] / max(height, width)
    image = np.zeros((height, width, 3))
    for _ in range(6):
        cy, cx, r = rng.random(3)
        blob = np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (0.02 + 0.1 * r))
        image += blob[..., None] * rng.random(3)
    image = image / image.max() * 230 + rng.normal(0, 4, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def write_jpegs(folder, count, height, width, seed):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        Image.fromarray(photo_like(height, width, rng)).save(folder / f"{i:04d}.jpg", quality=90)
    return folder


def throughput(ds, batches, warmup, images_per_example):
    iterator = iter(ds)
    for _ in range(warmup):
        next(iterator)
    examples = 0
    start = time.perf_counter()
    for _ in range(batches):
        batch = next(iterator)
        examples += int(batch["a"].shape[0])
    seconds = time.perf_counter() - start
    return examples / seconds, examples * images_per_example / seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--warmup", type=int, default=15)
    parser.add_argument("--check-files", type=int, default=1000)
    args = parser.parse_args()
    common = dict(batch_size=args.batch_size, image_size=args.size, repeat=True, seed=0)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        aligned_dir = PERSON2CONTOUR / "train"
        if not aligned_dir.is_dir():
            aligned_dir = write_jpegs(tmp / "aligned", 100, 256, 512, seed=0)
        write_jpegs(tmp / "unaligned" / "trainA", 64, 288, 320, seed=1)
        write_jpegs(tmp / "unaligned" / "trainB", 64, 288, 320, seed=2)
        import tensorflow_datasets as tfds

        pipelines = [
            ("aligned_folder", lambda: data.aligned_folder(aligned_dir, **common), 2),
            ("aligned_folder cache=True",
             lambda: data.aligned_folder(aligned_dir, cache=True, **common), 2),
            ("aligned_folder deterministic=True",
             lambda: data.aligned_folder(aligned_dir, deterministic=True, **common), 2),
            ("unaligned_folder", lambda: data.unaligned_folder(tmp / "unaligned", **common), 2),
            ("single_folder (inference)",
             lambda: data.single_folder(tmp / "unaligned" / "trainA", **common), 1),
            ("tfds_unpaired horse2zebra (mocked)",
             lambda: data.tfds_unpaired("horse2zebra", data_dir=str(tmp / "tfds"), **common), 2),
            ("demo_paired edges2photo", lambda: data.demo_paired(**common), 2),
            ("demo_unpaired", lambda: data.demo_unpaired(**common), 2),
        ]
        print(f"{args.size} px crops, batch {args.batch_size}, {args.batches} timed batches, "
              f"{os.cpu_count()} CPU cores; aligned source: {aligned_dir}")
        print(f"{'pipeline':38s} {'build s':>8s} {'examples/s':>11s} {'images/s':>9s}")
        results = {"size": args.size, "batch_size": args.batch_size, "pipelines": {}}
        with tfds.testing.mock_data(num_examples=64, data_dir=str(tmp / "tfds"),
                                    policy=tfds.testing.MockPolicy.USE_CODE):
            for name, build, per_example in pipelines:
                start = time.perf_counter()
                ds = build()
                built = time.perf_counter() - start
                examples, images = throughput(ds, args.batches, args.warmup, per_example)
                print(f"{name:38s} {built:8.2f} {examples:11.1f} {images:9.1f}")
                results["pipelines"][name] = {"build_s": round(built, 2), "examples_per_s": round(examples, 1),
                                              "images_per_s": round(images, 1)}

        folder = write_jpegs(tmp / "check", args.check_files, 256, 256, seed=3)
        paths = sorted(str(p) for p in folder.iterdir())
        decode._CHECKED.clear()
        start = time.perf_counter()
        with warnings.catch_warnings():
            decode.check_image_files(paths)
        first = time.perf_counter() - start
        start = time.perf_counter()
        decode.check_image_files(paths)
        again = time.perf_counter() - start
        print(f"bad-file check of {len(paths)} 256 px JPEGs: {len(paths) / first:.0f} files/s "
              f"(full decode), {len(paths) / again:.0f} files/s when unchanged (stat only)")
        results["bad_file_check_files_per_s"] = {"full_decode": round(len(paths) / first), "unchanged": round(len(paths) / again)}
    print(json.dumps(results))


if __name__ == "__main__":
    main()
