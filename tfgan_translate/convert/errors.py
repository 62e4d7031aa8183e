"""Errors of the converter, each message naming the file, key or argument and what to do."""


class ConversionError(ValueError):
    """A checkpoint cannot be turned into one of our models (wrong arch, norm, channels...)."""


class CheckpointError(ConversionError):
    """A checkpoint file cannot be read: missing, truncated, corrupt, or not a state_dict."""
