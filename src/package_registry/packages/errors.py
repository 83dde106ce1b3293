"""The errors a package load can end with, and the checks' own failure type.

Every rule of the loader raises one of these with the reference's text, so callers catch
one tuple (``FAILURES``) and wrap it once into the reference's ``PackageError`` message.
"""

from __future__ import annotations

from typing import Any

from package_registry.packages.versions import ConstraintError, VersionError
from package_registry.packages.yamlload import ConfigError, YamlError


class ReaderError(Exception):
    """A file could not be read or stat'ed; ``str`` is Go's error text for it."""

    def __init__(self, text: str, *, not_found: bool = False) -> None:
        super().__init__(text)
        #: ``os.IsNotExist`` would be true for the Go error.
        self.not_found = not_found


class PackageError(Exception):
    """The package does not load; ``str`` is the reference's full error text."""


class Invalid(Exception):
    """A check of the reference failed; ``str`` is its message."""


#: Everything a broken package raises; the texts are the reference's errors.
FAILURES = (Invalid, ReaderError, YamlError, ConfigError, VersionError, ConstraintError)


def json_kind(value: Any) -> str:
    """The JSON kind of a decoded value, as Go's decoder names it in its
    ``cannot unmarshal <kind> into Go value of type …`` errors."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"
