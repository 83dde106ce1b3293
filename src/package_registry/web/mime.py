"""Content types of package files, fixed so answers do not depend on the host.

The reference asks Go's ``mime`` package, which consults the host's MIME database; we
pin its forced registrations, Go's built-in table and the mailcap values of the
official container image, and sniff only what none of them knows.
"""

from __future__ import annotations

import posixpath

#: Content types by lower-case file extension (``.md``); other files are sniffed.
BY_EXTENSION: dict[str, str] = {
    # Forced by the reference: these always win.
    ".zip": "application/zip",
    ".ico": "image/x-icon",
    ".md": "text/markdown; charset=utf-8",
    ".yml": "text/yaml; charset=UTF-8",
    # Go's built-in table.
    ".avif": "image/avif",
    ".css": "text/css; charset=utf-8",
    ".gif": "image/gif",
    ".htm": "text/html; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".jpeg": "image/jpeg",
    ".jpg": "image/jpeg",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".pdf": "application/pdf",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".wasm": "application/wasm",
    ".webp": "image/webp",
    ".xml": "text/xml; charset=utf-8",
    # Values of mailcap's mime.types, as in the reference's container image.
    ".sig": "application/pgp-signature",
    ".asc": "application/pgp-signature",
    ".txt": "text/plain",
    ".csv": "text/csv",
    ".yaml": "application/x-yaml",
    ".gz": "application/gzip",
    ".tgz": "application/gzip",
}

_BINARY_BYTES = frozenset(b for b in range(0x20) if b not in (0x09, 0x0A, 0x0C, 0x0D, 0x1B))


def content_type_for(name: str, head: bytes | None = None) -> str:
    """Content type for a file name; ``head`` (its first bytes) is sniffed if unknown."""
    ext = posixpath.splitext(name)[1].lower()
    known = BY_EXTENSION.get(ext)
    if known is not None:
        return known
    return sniff(head or b"")


def needs_sniffing(name: str) -> bool:
    """Whether ``content_type_for`` would have to look at the file's bytes."""
    return posixpath.splitext(name)[1].lower() not in BY_EXTENSION


def sniff(head: bytes) -> str:
    """A small part of the WHATWG sniffing algorithm: text or binary, plus common images."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head.startswith(b"PK\x03\x04"):
        return "application/zip"
    if head.startswith(b"\x1f\x8b\x08"):
        return "application/x-gzip"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    lowered = head.lstrip(b"\t\n\x0c\r ")[:14].lower()
    if lowered.startswith(b"<?xml"):
        return "text/xml; charset=utf-8"
    if lowered.startswith((b"<!doctype html", b"<html")):
        return "text/html; charset=utf-8"
    if any(b in _BINARY_BYTES for b in head[:512]):
        return "application/octet-stream"
    return "text/plain; charset=utf-8"
