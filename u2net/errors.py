"""The root of the project's exception tree. Each package adds its own in its ``errors.py``.

A ``ServingError`` is a problem the user can fix: the command lines print its one line
without a traceback. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class ServingError(Exception):
    """Base class: one clear line saying what was wrong and what to do."""


class UsageError(ServingError):
    """The command line cannot be carried out as given (exit code 2)."""


class InvalidImage(ServingError):
    """An input image cannot be decoded or is not acceptable."""


class TooManyPixels(InvalidImage):
    """An image over the pixel limit (read from its header). The message names the limit
    only; an edge whose user sets the limit says how (the client's ``--max-pixels``)."""


class ContractMismatch(ServingError):
    """A served model does not follow the serving contract."""


class InvalidRequest(ServingError):
    """A request's parameters are malformed or unknown."""


class ServerStartError(ServingError):
    """The embedded Triton server could not be started."""


class OptionError(ServingError, ValueError):
    """An option's value is not one it takes: "NAME: expected X, got Y". Each edge says it its
    own way: the CLIs as a usage error, web as 400, the ``cutout`` model as InvalidRequest."""


class IncompleteFrame(InvalidImage):
    """A raw video stream ended inside a frame."""
