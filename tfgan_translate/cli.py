"""The ``tfgan-translate`` command line.

Each sub-command is a pair of functions: ``_add_<name>(subparsers)`` declares its flags and
``_run_<name>(args)`` does the work. Bad arguments print one clear line and exit with 2.
"""

import argparse
import sys


class UsageError(Exception):
    """A problem with what the user asked for; printed as one line, exit status 2."""


def _add_demo(subparsers):
    parser = subparsers.add_parser("demo", help="run the built-in demo on offline data")
    parser.add_argument("--output", default="checkpoints/demo", help="folder for the demo's outputs")
    return parser


def _run_demo(args):
    from . import networks

    generator = networks.build_resnet_generator((64, 64, 3), ngf=16, n_blocks=6)
    discriminator = networks.build_patchgan_discriminator((64, 64, 3), ndf=16, norm="instance")
    print(
        "tfgan-translate demo: the networks build "
        f"(ResNet generator {generator.count_params():,} parameters, "
        f"PatchGAN {discriminator.count_params():,}).\n"
        "Training on the demo data arrives with the trainers issue (#4); until then the demo "
        "only checks that the installation works."
    )
    return 0


COMMANDS = {
    "demo": (_add_demo, _run_demo),
}


def build_parser():
    parser = argparse.ArgumentParser(
        prog="tfgan-translate", description="GAN image-to-image translation (pix2pix, CycleGAN, ...)"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add_parser, _ in COMMANDS.values():
        add_parser(subparsers)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command][1](args)
    except UsageError as error:
        print(f"tfgan-translate {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
