"""govmomi's vSphere API simulator (vcsim) as lab and test tooling.

``build()`` compiles our small ``main.go`` against a private, fixed copy of Debian's govmomi sources and caches the
binary; :class:`Simulator` runs it on loopback with a per-run certificate and password::

    with Simulator(Model(vms=10)) as sim:
        ...  # sim.url, sim.host, sim.port, sim.ca_file, sim.username, sim.password

Product code never imports this package.
"""

from lab.vcsim._build import DEBIAN_PACKAGES, build, cache_dir
from lab.vcsim._fixes import FIXES, Edit, Fix, apply_fixes
from lab.vcsim._simulator import FREE_ESXI, License, Model, Simulator
from lab.vcsim.errors import VcsimBuildError, VcsimError, VcsimStartError, VcsimUnavailable

__all__ = [
    "DEBIAN_PACKAGES",
    "FIXES",
    "FREE_ESXI",
    "Edit",
    "Fix",
    "License",
    "Model",
    "Simulator",
    "VcsimBuildError",
    "VcsimError",
    "VcsimStartError",
    "VcsimUnavailable",
    "apply_fixes",
    "build",
    "cache_dir",
]
