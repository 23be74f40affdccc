from importlib import metadata

try:
    __version__ = metadata.version("failback")
except metadata.PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.1.0"
