"""The installed version, read once: the CLI prints it and the control API's health check reports it."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mockserver")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
