"""mockserver: an offline, wire-exact imitation of the OpenAI API's streaming endpoints, scripted in YAML."""

from ._version import __version__
from .scenario.load import LoadResult, Problem, ScenarioError, load_data, load_paths, load_text
from .server.app import create_app
from .server.settings import Settings

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
