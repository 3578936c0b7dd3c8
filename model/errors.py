"""Errors the runtime reports to its callers as one clear line."""


def one_line(text: str) -> str:
    """`text` with its line breaks and runs of blanks folded into single spaces."""
    return " ".join(text.split())


class LoadError(Exception):
    """A checkpoint could not be loaded; the message names the file and the problem.

    The message is always one line: it is printed to a terminal and shown by editors as is.
    """

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message))


class FimUnsupportedError(ValueError):
    """Infilling was asked of a tokenizer that has no fill-in-the-middle tokens."""
