"""The application: the CLI, run folders, training configs from flags, evaluation, translation
and export, and the demo. It reads the family registry; nothing below it imports it."""

# What `tfgan-translate demo` trains when no --family is given.
DEFAULT_DEMOS = ("pix2pix", "cyclegan")
