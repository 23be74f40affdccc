"""The benchmarks' smoke tests use the simulator binary the lab's tests build."""

from tests.lab.conftest import vcsim_binary

__all__ = ["vcsim_binary"]
