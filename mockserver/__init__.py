"""mockserver: an offline, wire-exact imitation of the OpenAI API's streaming endpoints, scripted in YAML."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mockserver")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

# Imported after __version__ is set: the control API reports it.
from .scenario.load import LoadResult, Problem, ScenarioError, load_data, load_paths, load_text
from .server.app import create_app
from .server.state import Settings

__all__ = [
    "LoadResult",
    "Problem",
    "ScenarioError",
    "Settings",
    "__version__",
    "create_app",
    "load_data",
    "load_paths",
    "load_text",
]
