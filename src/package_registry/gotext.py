"""Go's text conventions that the reference's messages and parameters follow.

Error texts quote values with Go's ``%q``, booleans are read with ``strconv.ParseBool``
and URL paths are escaped as ``url.URL`` writes them, in flags, query parameters,
manifests and redirects alike; each lives here once so that every layer answers with
the same bytes.
"""

from __future__ import annotations

import urllib.parse

_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    "\\": "\\\\",
    '"': '\\"',
}

_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


def go_quote(text: str) -> str:
    """Go's ``%q`` (``strconv.Quote``); surrogate-escaped bytes print as ``\\xHH``."""
    if text.isprintable() and '"' not in text and "\\" not in text:
        return f'"{text}"'
    out = ['"']
    for char in text:
        escaped = _ESCAPES.get(char)
        if escaped is not None:
            out.append(escaped)
            continue
        code = ord(char)
        if 0xDC80 <= code <= 0xDCFF:  # an invalid UTF-8 byte kept by surrogateescape
            out.append(f"\\x{code - 0xDC00:02x}")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif char == " " or char.isprintable():
            out.append(char)
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def parse_bool(text: str) -> bool | None:
    """Go's ``strconv.ParseBool``; ``None`` when ``text`` is not a boolean."""
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return None


def escape_path(path: str) -> str:
    """Go's URL path escaping (``url.URL.EscapedPath``), for ``Location`` and upstream URLs."""
    return urllib.parse.quote(path, safe="$&+,/:;=@")
