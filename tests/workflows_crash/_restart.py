"""``python -m tests.workflows_crash._restart LAB_DIR [CRASH_AT]``: restart the lab's controller on its recorded
ports, set to kill itself at ``CRASH_AT`` (``<job type>:<step>:<ran|recorded>``) when given.

A process of its own, as ``failbackctl lab`` is: the controller outlives it (its own session), so no test process
holds a handle to a child it does not wait for.
"""

from __future__ import annotations

import sys
from pathlib import Path

from controller.service._faults import CRASH_AT
from lab.world import Layout, restart_controller


def main(argv: list[str]) -> int:
    layout = Layout(Path(argv[0]))
    restart_controller(layout, env={CRASH_AT: argv[1]} if len(argv) > 1 else None)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
