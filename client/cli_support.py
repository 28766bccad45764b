"""What every command line of the project does at its edge: logging and user errors."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

INTERRUPTED = 130


def setup_logging(level: int) -> None:
    logging.basicConfig(level=level, format="%(message)s", stream=sys.stderr)


def run_handler(handler: Callable[[], int]) -> int:
    """Run a subcommand: user errors become one line on stderr and exit 1.

    Anything else is a bug and keeps its traceback.
    """
    from client.errors import ServingError

    try:
        return handler()
    except ServingError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return INTERRUPTED
