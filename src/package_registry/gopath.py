"""Go's ``path.Clean`` and ``path.Join``, for slash-separated names of every source.

Request paths, zip members, package-relative file names, manifest-derived URLs and
bucket object names are all cleaned the way the reference's Go code cleans them; one
implementation keeps them agreeing (``//a/../b`` is ``/b`` everywhere).
"""

from __future__ import annotations

import posixpath


def clean_path(path: str) -> str:
    """Go's ``path.Clean``: ``//``, ``.`` and ``..`` resolved, no trailing ``/``, ``.`` when
    nothing is left. (POSIX keeps a leading ``//``; Go does not.)"""
    cleaned = posixpath.normpath(path)
    return "/" + cleaned.lstrip("/") if cleaned.startswith("//") else cleaned


def join_path(*parts: str) -> str:
    """Go's ``path.Join``: the non-empty ``parts`` joined with ``/`` and cleaned; ``""``
    when all are empty."""
    joined = "/".join(part for part in parts if part)
    return clean_path(joined) if joined else ""
