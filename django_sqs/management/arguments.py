"""argparse pieces shared by the commands: bad values are usage errors, not tracebacks."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def number(kind: type, *, minimum: float, inclusive: bool = True, maximum: float | None = None) -> Callable[[str], float]:
    """An argparse ``type=`` that parses ``kind`` (int or float) and enforces its bounds."""
    noun = "a whole number" if kind is int else "a number"

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {noun}") from None
        if (isinstance(value, float) and math.isnan(value)) or value < minimum or (not inclusive and value == minimum):
            bound = f"at least {minimum}" if inclusive else f"more than {minimum}"
            raise argparse.ArgumentTypeError(f"must be {bound}, not {value}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"must be at most {maximum}, not {value}")
        return value

    parse.__name__ = f"{kind.__name__} >{'=' if inclusive else ''} {minimum}"
    return parse


positive_int = number(int, minimum=1)
non_negative_float = number(float, minimum=0)
positive_float = number(float, minimum=0, inclusive=False)


def add_queue_names(parser: argparse.ArgumentParser, default: str = "all") -> None:
    """The positional ``queue_name ...`` every command takes."""
    parser.add_argument(
        "queue_names", nargs="*", metavar="queue_name",
        help=f"registered queue names, shell-style patterns of them (shop__*) or full SQS names (prod__shop__mail); default: {default}",
    )
