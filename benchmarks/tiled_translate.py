"""Tiled against untiled translation of large images: peak memory, time and the difference.

    python benchmarks/tiled_translate.py [--size 4096] [--compare-size 2048] [--tile 1024] [--ngf 16] [--n-blocks 6]

Each run is its own process (so each peak resident memory is its own): ``untiled`` is
``translate``'s whole-image path, ``tiled`` is ``translate --tile`` (whole-image instance-norm
statistics, default halo). The image is a mosaic of scikit-image's photos, the generator a
seeded, untrained CycleGAN ResNet generator (instance norm, reflection padding: the case tiling
must get right). At ``--size`` both are run (the untiled one may not fit in memory: reported as
such); at ``--compare-size``, where both fit, their outputs are compared. Prints one JSON line:
seconds and peak RSS of each run, and the largest and mean absolute difference between the
outputs (in [-1, 1]; 1/255 is one 8-bit level).
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np


def mosaic(size):
    from skimage import data as photos
    from skimage.transform import resize

    tiles = [photos.astronaut(), photos.chelsea(), photos.coffee(), photos.rocket()]
    side = size // 4
    rows = [np.concatenate([resize(tiles[(r + c) % 4], (side, side), anti_aliasing=True) for c in range(4)], axis=1)
            for r in range(4)]
    return (np.concatenate(rows, axis=0) * 2 - 1).astype(np.float32)


def run_mode(args):
    import keras

    from tfgan_translate import networks
    from tfgan_translate.app import inference, tiles

    keras.utils.set_random_seed(0)
    model = networks.build_resnet_generator((None, None, 3), ngf=args.ngf, n_blocks=args.n_blocks)
    image = mosaic(args.size)
    start = time.perf_counter()
    if args.mode == "tiled":
        output = tiles.translate_tiled(model, image, tile=args.tile)
        halo = tiles.default_halo(model, args.tile)
    else:
        output = inference.translate_array(model, image)
        halo = None
    seconds = time.perf_counter() - start
    np.save(args.save, output)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"mode": args.mode, "seconds": round(seconds, 1), "peak_rss_mb": round(peak), "halo": halo}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--compare-size", type=int, default=2048)
    parser.add_argument("--tile", type=int, default=1024)
    parser.add_argument("--ngf", type=int, default=16)
    parser.add_argument("--n-blocks", type=int, default=6)
    parser.add_argument("--mode", choices=("tiled", "untiled"), help=argparse.SUPPRESS)
    parser.add_argument("--save", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mode:
        return run_mode(args)
    results = {"size": args.size, "compare_size": args.compare_size, "tile": args.tile, "ngf": args.ngf,
               "n_blocks": args.n_blocks}
    with tempfile.TemporaryDirectory() as folder:
        def run(mode, size):
            command = [sys.executable, __file__, "--mode", mode, "--save", os.path.join(folder, f"{mode}_{size}.npy"),
                       "--size", str(size), "--tile", str(args.tile), "--ngf", str(args.ngf),
                       "--n-blocks", str(args.n_blocks)]
            done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
            if done.returncode:
                out_of_memory = "OOM" in done.stderr or done.returncode < 0
                if mode == "untiled" and out_of_memory:
                    return {"mode": mode, "fits": False, "error": "out of memory"}
                sys.exit(f"{mode} at {size} px failed:\n{done.stderr[-3000:]}")
            return json.loads(done.stdout.strip().splitlines()[-1])

        results[f"tiled_{args.size}"] = run("tiled", args.size)
        results[f"untiled_{args.size}"] = run("untiled", args.size)
        results[f"tiled_{args.compare_size}"] = run("tiled", args.compare_size)
        results[f"untiled_{args.compare_size}"] = run("untiled", args.compare_size)
        difference = np.abs(np.load(os.path.join(folder, f"tiled_{args.compare_size}.npy"))
                            - np.load(os.path.join(folder, f"untiled_{args.compare_size}.npy")))
    results["max_abs_difference"] = float(difference.max())
    results["mean_abs_difference"] = float(difference.mean())
    tiled, untiled = results[f"tiled_{args.compare_size}"], results[f"untiled_{args.compare_size}"]
    results["memory_ratio_at_compare_size"] = round(tiled["peak_rss_mb"] / untiled["peak_rss_mb"], 3)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
