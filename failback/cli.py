"""What every failback command line does around its handler: exit codes and error reporting.

Exit codes: 0 ok, 1 failed (our error, printed with its remedy), 2 usage, 130 interrupted. A reader that goes
away (``| head``) is not an error.
"""

from __future__ import annotations

import argparse
import os
import sys

from failback.errors import FailbackError

__all__ = ["run_handler"]


def run_handler(prog: str, args: argparse.Namespace, *, usage_errors: tuple[type[Exception], ...] = ()) -> int:
    """Run ``args.handler(args)`` and turn its outcome into an exit code; errors go to stderr as one line."""
    try:
        return int(args.handler(args))
    except usage_errors as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except FailbackError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # Silence the interpreter's flush of stdout at exit too, or it reports the broken pipe itself.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
