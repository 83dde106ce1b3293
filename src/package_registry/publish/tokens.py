"""The bearer tokens allowed to publish, read from ``-publish-tokens-file``.

One token a line, as ``[label:]secret`` where the secret is the token itself or
``sha256:<64 hex digits>`` (its SHA-256 digest, so the file need not hold the token);
blank lines and lines starting with ``#`` are skipped. A token that contains ``:`` must
be given a label. The file is read again when its inode, size or modification time
changes, so tokens are added and revoked without a restart; a file that cannot be read
then allows nobody until it can.

Only digests are kept and compared (``hmac.compare_digest`` against every entry, so the
time taken does not depend on which one matched), and neither tokens nor digests are
ever logged: a caller is named by its label, else by the first 8 hex digits of its
token's digest.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import threading
from dataclasses import dataclass

log = logging.getLogger("package_registry.publish")

#: Shortest token accepted in plain form: shorter ones are guessable.
MIN_TOKEN_LENGTH = 16
#: Largest tokens file read: more is a mistake, not a token list.
MAX_FILE_BYTES = 1 << 20
_LABEL = re.compile(r"[A-Za-z0-9_.@-]{1,64}")
_DIGEST = re.compile(r"sha256:([0-9a-fA-F]{64})")


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a valid token belongs to, as audit lines and rate limits name it."""

    #: The label, or the first 8 hex digits of the token's SHA-256.
    name: str
    #: The token's SHA-256 (the rate limit's key).
    digest: bytes


def parse_tokens(text: str, source: str) -> list[Identity]:
    """The entries of a tokens file; a bad line is logged (by number) and skipped."""
    entries = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        entry = _parse_line(line)
        if isinstance(entry, str):
            log.warning(
                "tokens file line skipped: %s",
                entry,
                extra={"file.path": source, "file.line": number},
            )
        else:
            entries.append(entry)
    return entries


def _parse_line(line: str) -> Identity | str:
    label = ""
    secret = line
    if _DIGEST.fullmatch(line) is None and ":" in line:
        label, _, secret = line.partition(":")
        if _LABEL.fullmatch(label) is None:
            return "a label is 1 to 64 letters, digits or _.@- (a token with ':' needs a label)"
    digest_form = _DIGEST.fullmatch(secret)
    if digest_form is not None:
        digest = bytes.fromhex(digest_form.group(1))
    elif len(secret) < MIN_TOKEN_LENGTH:
        return f"a token has at least {MIN_TOKEN_LENGTH} characters"
    else:
        digest = hashlib.sha256(secret.encode()).digest()
    return Identity(label or digest.hex()[:8], digest)


class TokenFile:
    """The tokens of one file, read again whenever the file changes."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._entries: list[Identity] = []

    def load(self) -> int:
        """Read the file now (start-up: errors are raised); returns the number of tokens."""
        with self._lock:
            self._read(os.stat(self.path))
            return len(self._entries)

    def authenticate(self, token: str) -> Identity | None:
        """The identity ``token`` belongs to (its first line), or ``None``."""
        digest = hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()
        found = None
        for entry in self._current():
            if hmac.compare_digest(entry.digest, digest) and found is None:
                found = entry
        return found

    def _current(self) -> list[Identity]:
        with self._lock:
            try:
                info = os.stat(self.path)
                if (info.st_ino, info.st_size, info.st_mtime_ns) != self._stamp:
                    self._read(info)
            except (OSError, ValueError) as exc:
                if self._stamp is not None or self._entries:
                    log.error(
                        "tokens file unreadable: nobody may publish until it is fixed",
                        extra={"file.path": self.path, "error.message": str(exc)},
                    )
                self._stamp, self._entries = None, []
            return self._entries

    def _read(self, info: os.stat_result) -> None:
        if info.st_size > MAX_FILE_BYTES:
            raise ValueError(f"larger than {MAX_FILE_BYTES} bytes")
        with open(self.path, encoding="utf-8") as handle:
            text = handle.read(MAX_FILE_BYTES + 1)
        self._entries = parse_tokens(text, self.path)
        self._stamp = (info.st_ino, info.st_size, info.st_mtime_ns)
        log.info("tokens file read", extra={"file.path": self.path, "tokens": len(self._entries)})
