"""Live interpretation for LiveKit rooms: the translator worker and its command line."""

from interpreter.config import Settings, load_settings
from interpreter.errors import (
    ConfigError,
    InterpreterError,
    ServerInstallError,
    ServerStartError,
)

__all__ = [
    "ConfigError",
    "InterpreterError",
    "ServerInstallError",
    "ServerStartError",
    "Settings",
    "load_settings",
]
