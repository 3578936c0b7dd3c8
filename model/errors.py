"""Errors the runtime reports to its callers as one clear line."""


class LoadError(Exception):
    """A checkpoint could not be loaded; the message names the file and the problem."""


class FimUnsupportedError(ValueError):
    """Infilling was asked of a tokenizer that has no fill-in-the-middle tokens."""
