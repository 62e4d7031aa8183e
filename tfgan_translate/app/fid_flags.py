"""The FID/KID flags that ``train --evaluate-every-epochs`` and ``evaluate`` share (no TensorFlow import)."""

NETWORKS = ("fid-inception", "keras-inception-v3")  # as metrics.features.NETWORKS (a test keeps them equal)
RESIZE_MODES = ("legacy", "clean")
PUBLISHED_FILE = "pt_inception-2015-12-05-6726825d.pth"


def add_fid_flags(parser):
    """``--fid-network``, ``--fid-weights``, ``--fid-resize`` and the older ``--inception-weights``."""
    parser.add_argument("--fid-network", choices=NETWORKS,
                        help="features for fid/kid: fid-inception = the 2015 Inception graph that published FIDs use "
                        f"(weights: {PUBLISHED_FILE}); keras-inception-v3 = Keras' ImageNet InceptionV3, not comparable "
                        "with published FIDs (default: fid-inception)")
    parser.add_argument("--fid-weights", metavar="FILE",
                        help=f"weights of --fid-network: {PUBLISHED_FILE} for fid-inception (default: where pytorch-fid "
                        "downloads it, ~/.cache/torch/hub/checkpoints/), the Keras ..._notop.h5 for keras-inception-v3 "
                        "(default: Keras' ImageNet download)")
    parser.add_argument("--fid-resize", choices=RESIZE_MODES, default="legacy",
                        help="resize to 299 px: legacy = bilinear, as pytorch-fid and TF-GAN; clean = PIL bicubic with "
                        "antialiasing, as clean-fid (default: %(default)s)")
    parser.add_argument("--inception-weights", metavar="FILE",
                        help="older spelling of --fid-network keras-inception-v3 --fid-weights FILE")


def fid_arguments(args):
    """The keyword arguments of ``evaluation.make_evaluator``/``evaluate_run`` from the flags."""
    return dict(fid_network=args.fid_network, fid_weights=args.fid_weights, fid_resize=args.fid_resize,
                inception_weights=args.inception_weights)


def gives_fid_weights(args):
    """Whether the flags name FID weights (so that fid,kid can be scored without asking)."""
    return bool(args.fid_weights or args.inception_weights)
