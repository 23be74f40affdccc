"""``python -m tests.workflows_crash._restart LAB_DIR [CRASH_AT]``: restart the lab's controller on its recorded
ports, set to kill itself at ``CRASH_AT`` (``<job type>:<step>:<ran|recorded>``) when given.

A process of its own, as ``failbackctl lab`` is: the controller outlives it (its own session), so no test process
holds a handle to a child it does not wait for.
"""

from __future__ import annotations

import sys
from pathlib import Path

from controller.service._faults import CRASH_AT
from lab.world import LabStartError, Layout, restart_controller


def main(argv: list[str]) -> int:
    layout = Layout(Path(argv[0]))
    crash_at = argv[1] if len(argv) > 1 else None
    try:
        restart_controller(layout, env={CRASH_AT: crash_at} if crash_at else None)
    except LabStartError as exc:
        # The runner resumes the interrupted job as soon as it starts, before the controller says it is ready, so a
        # crash point close to where the job stopped can be reached first: the controller then died of its own
        # SIGKILL (status -9), where it was told to. The caller checks where the job stopped.
        if crash_at is None or "exited with status -9" not in exc.message:
            raise
        print(f"the controller reached {crash_at} before it was ready", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
