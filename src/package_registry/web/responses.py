"""Responses as the reference writes them: headers, error bodies and file serving.

Everything here is about bytes on the wire — Cache-Control lines, plain-text errors,
``Last-Modified``/``If-Modified-Since``, ``Range`` — and nothing about packages. File
serving follows Go's ``http.ServeContent`` rules, which clients and the conformance
goldens rely on.
"""

from __future__ import annotations

import calendar
import functools
import os
import re
import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_tz
from typing import BinaryIO, Protocol

from package_registry.web.mime import content_type_for, needs_sniffing

Headers = list[tuple[bytes, bytes]]

CHUNK_SIZE = 256 * 1024
#: Bytes read and dropped at a time to reach an offset in a forward-only stream.
SKIP_STEP = 4 * 1024 * 1024

JSON_TYPE = (b"content-type", b"application/json")
TEXT_TYPE = (b"content-type", b"text/plain; charset=utf-8")
NOSNIFF = (b"x-content-type-options", b"nosniff")
NO_CACHE: Headers = [(b"cache-control", b"max-age=0"), (b"cache-control", b"private, no-store")]


class AsyncBody(Protocol):
    """A body that arrives from elsewhere while it is sent (a relayed download).

    Iterating may raise when the source fails half-way; ``aclose`` releases the source
    and is always called once the answer is written or abandoned.
    """

    def __aiter__(self) -> AsyncIterator[bytes]: ...

    async def aclose(self) -> None: ...


@dataclass(slots=True)
class Response:
    """A complete answer: status, headers and one of four body forms.

    ``file_path`` lets the server send a whole file without copying it through Python
    (ASGI ``pathsend``); ``stream`` yields chunks for everything that is not in memory;
    ``body_stream`` yields chunks as another server sends them.
    """

    status: int
    headers: Headers = field(default_factory=list)
    body: bytes = b""
    stream: Callable[[], Iterator[bytes]] | None = None
    file_path: str | None = None
    body_stream: AsyncBody | None = None
    #: Bytes the body will have, for ``Content-Length`` (``None``: chunked).
    length: int | None = None
    #: A 200 whose bytes depend only on the request target, the catalog snapshot and gzip
    #: negotiation: the server may replay it for the same target (``web/fastpath.py``).
    replayable: bool = False
    #: The body was read from a file that may change on disk: replays are kept short.
    revalidate: bool = False
    #: A package file served, as ``epr_storage_requests_total`` counts it:
    #: (``local`` or ``remote``, ``artifacts``, ``signatures`` or ``statics``).
    storage_request: tuple[str, str] | None = None


def cache_headers(seconds: float) -> Headers:
    """The reference's two Cache-Control lines for cacheable answers (``%.0f`` rounding)."""
    return [(b"cache-control", b"max-age=%d" % round(seconds)), (b"cache-control", b"public")]


def text_error(status: int, message: str, headers: Headers | None = None) -> Response:
    """Go's ``http.Error``: plain text, ``nosniff``, message plus a newline.

    Messages may quote a client's bytes that are not UTF-8 (kept as surrogate escapes
    by the query parser); Go writes such bytes back as they came, and so do we.
    """
    body = message.encode("utf-8", "surrogateescape") + b"\n"
    return Response(status, [*(headers or []), TEXT_TYPE, NOSNIFF], body)


def bad_request(message: str) -> Response:
    return text_error(400, message, NO_CACHE)


def not_found(message: str) -> Response:
    return text_error(404, message, NO_CACHE)


def internal_error(headers: Headers | None = None) -> Response:
    return text_error(500, "internal server error", headers)


_HTML_ESCAPES = (("&", "&amp;"), ("'", "&#39;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&#34;"))


def moved_permanently(method: str, location: str, headers: Headers | None = None) -> Response:
    """Go's ``http.Redirect`` with 301: ``text/html`` for GET and HEAD, a tiny link body
    (the location escaped as ``html.EscapeString`` does) for GET only, after ``headers``."""
    out = [*(headers or []), (b"location", location.encode())]
    body = b""
    if method in ("GET", "HEAD"):
        out.append((b"content-type", b"text/html; charset=utf-8"))
    if method == "GET":
        escaped = location
        for raw, replacement in _HTML_ESCAPES:
            escaped = escaped.replace(raw, replacement)
        body = b'<a href="%s">Moved Permanently</a>.\n\n' % escaped.encode()
    return Response(301, out, body)


def http_date(timestamp: float) -> bytes:
    """IMF-fixdate in GMT, as in ``Last-Modified``."""
    return _http_date(int(timestamp))


@functools.lru_cache(maxsize=4096)
def _http_date(seconds: int) -> bytes:
    return formatdate(seconds, usegmt=True).encode()


def parse_http_date(value: str) -> float | None:
    """Seconds since the epoch for IMF-fixdate, RFC 850 and asctime dates; ``None`` if bad."""
    parsed = parsedate_tz(value)
    if parsed is None:
        return None
    try:
        stamp = calendar.timegm((*parsed[:6], 0, 0, 0))
    except (OverflowError, ValueError):
        return None
    return float(stamp - (parsed[9] or 0))


@dataclass(frozen=True, slots=True)
class Content:
    """What ``serve_content`` needs to know about one file."""

    size: int
    mtime: float
    content_type: str
    open: Callable[[], BinaryIO]
    #: A real path on disk, when the whole file can be handed to the server as is.
    path: str | None = None
    #: The whole file, when it is held in memory (``web/filecache.py``): sent as one body.
    data: bytes | None = None


def disk_file(path: str, name: str, mtime: float | None = None) -> Content:
    """A regular file on disk that is served as it is, typed by ``name`` (or by its first
    512 bytes where the name does not tell); ``mtime`` overrides the file's own. Raises
    ``OSError`` when the file cannot be read."""
    info = os.stat(path)
    head = None
    if needs_sniffing(name):
        with open(path, "rb") as handle:
            head = handle.read(512)
    return Content(
        size=info.st_size,
        mtime=info.st_mtime if mtime is None else mtime,
        content_type=content_type_for(name, head),
        open=functools.partial(open, path, "rb"),
        path=path,
    )


class _RangeError(Exception):
    """A ``Range`` header the reference answers with 416."""


class _NoOverlap(_RangeError):
    pass


#: Largest value Go's ``strconv.ParseInt(s, 10, 64)`` accepts.
_INT64_MAX = (1 << 63) - 1
#: Ranges honoured in one request; more and the whole file is sent (Apache's
#: ``MaxRanges`` default), so a long header cannot multiply the answer's size.
MAX_RANGES = 200
#: One comma-separated part of a ``Range`` header without its blanks; parts that are
#: empty or blank are skipped, as in Go.
_RANGE_PART = re.compile(r"[^, \t](?:[^,]*[^, \t])?")


def _go_int64(text: str) -> int | None:
    """``strconv.ParseInt(text, 10, 64)``: optional sign, ASCII digits, within int64.

    Checks the digit count before converting, so a number of any length costs nothing
    (Python refuses to convert very long digit strings at all).
    """
    digits = text[1:] if text[:1] in ("+", "-") else text
    if not digits or not digits.isascii() or not digits.isdigit():
        return None
    digits = digits.lstrip("0") or "0"
    if len(digits) > 19:
        return None
    value = int(digits)
    if value > _INT64_MAX + (text[0] == "-"):
        return None
    return -value if text[0] == "-" else value


def _parse_range(header: str, size: int) -> list[tuple[int, int]]:
    """Ranges as (start, length), following Go's ``parseRange`` rules.

    One deviation bounds the work: after ``MAX_RANGES`` ranges the rest of the header is
    not read, since so many ranges are answered with the whole file anyway.
    """
    if not header.startswith("bytes="):
        raise _RangeError("invalid range")
    ranges: list[tuple[int, int]] = []
    no_overlap = False
    for found in _RANGE_PART.finditer(header, len("bytes=")):
        part = found.group()
        start_text, sep, end_text = part.partition("-")
        if not sep:
            raise _RangeError("invalid range")
        start_text, end_text = start_text.strip(" \t"), end_text.strip(" \t")
        if not start_text:
            # A suffix: the last ``end`` bytes.
            if not end_text or end_text[0] == "-":
                raise _RangeError("invalid range")
            suffix = _go_int64(end_text)
            if suffix is None or suffix < 0:
                raise _RangeError("invalid range")
            suffix = min(suffix, size)
            ranges.append((size - suffix, suffix))
        else:
            start = _go_int64(start_text)
            if start is None or start < 0:
                raise _RangeError("invalid range")
            if start >= size:
                no_overlap = True
                continue
            if not end_text:
                ranges.append((start, size - start))
            else:
                end = _go_int64(end_text)
                if end is None or start > end:
                    raise _RangeError("invalid range")
                ranges.append((start, min(end, size - 1) - start + 1))
        if len(ranges) > MAX_RANGES:
            break  # the whole file will be sent (see ``serve_content``): stop reading
    if no_overlap and not ranges:
        raise _NoOverlap("invalid range: failed to overlap")
    return ranges


def _not_modified_since(value: str | None, mtime: float) -> bool:
    """True when the file's mtime (whole seconds) is not after the header's time."""
    if not value or mtime <= 0:
        return False
    since = parse_http_date(value)
    return since is not None and int(mtime) <= since


def serve_content(
    method: str, request_headers: dict[str, str], content: Content, headers: Headers
) -> Response:
    """Answer a GET/HEAD for a file the way ``http.ServeContent`` does.

    ``headers`` are the ones already decided (CORS, Cache-Control); conditional
    requests give 304/412, ranges 206/416, everything else 200.
    """
    headers = list(headers)
    if content.mtime > 0:
        headers.append((b"last-modified", http_date(content.mtime)))
    get_or_head = method in ("GET", "HEAD")

    if_match = request_headers.get("if-match")
    if if_match is not None and if_match.strip() and "*" not in if_match:
        return Response(412, headers)
    if if_match is None and content.mtime > 0:
        ius = request_headers.get("if-unmodified-since")
        since = parse_http_date(ius) if ius else None
        if since is not None and int(content.mtime) > since:
            return Response(412, headers)
    if_none_match = request_headers.get("if-none-match")
    if if_none_match is not None and if_none_match.strip():
        if "*" in if_none_match:
            return Response(304 if get_or_head else 412, headers)
    elif get_or_head and _not_modified_since(
        request_headers.get("if-modified-since"), content.mtime
    ):
        return Response(304, headers)

    range_header = request_headers.get("range", "")
    if range_header and not _if_range_holds(method, request_headers.get("if-range"), content.mtime):
        range_header = ""

    try:
        ranges = _parse_range(range_header, content.size) if range_header else []
    except _NoOverlap as err:
        if content.size == 0:
            ranges = []
        else:
            kept = _drop_for_error(headers)
            kept.append((b"content-range", b"bytes */%d" % content.size))
            return text_error(416, str(err), kept)
    except _RangeError as err:
        return text_error(416, str(err), _drop_for_error(headers))
    if len(ranges) > MAX_RANGES or sum(length for _, length in ranges) > content.size:
        ranges = []  # as Go when the total exceeds the file: send it all, once
    elif len(ranges) > 1 and _costly(content, ranges):
        ranges = []

    headers.append((b"accept-ranges", b"bytes"))
    if len(ranges) == 1:
        start, length = ranges[0]
        end = start + length - 1
        headers.append((b"content-range", b"bytes %d-%d/%d" % (start, end, content.size)))
        headers.append((b"content-type", content.content_type.encode()))
        if content.data is not None:
            body = content.data[start : start + length]
            return Response(206, headers, body, length=len(body))
        return Response(206, headers, stream=_reader(content, start, length), length=length)
    if len(ranges) > 1:
        return _multipart(content, ranges, headers)
    headers.append((b"content-type", content.content_type.encode()))
    if content.data is not None:
        return Response(
            200,
            headers,
            content.data,
            length=len(content.data),
            replayable=True,
            revalidate=True,
        )
    if content.path is not None:
        return Response(200, headers, file_path=content.path, length=content.size)
    return Response(200, headers, stream=_reader(content, 0, content.size), length=content.size)


def _if_range_holds(method: str, value: str | None, mtime: float) -> bool:
    """Go's ``checkIfRange``: without ETags only an exact date keeps the range."""
    if method not in ("GET", "HEAD") or not value:
        return True
    if value.startswith(('"', "W/")) or mtime <= 0:
        return False
    when = parse_http_date(value)
    return when is not None and int(mtime) == when


def _drop_for_error(headers: Headers) -> Headers:
    """Headers Go removes before writing an error from inside ServeContent."""
    dropped = {b"cache-control", b"content-encoding", b"etag", b"last-modified"}
    return [(k, v) for k, v in headers if k not in dropped]


def _reader(content: Content, start: int, length: int) -> Callable[[], Iterator[bytes]]:
    def chunks() -> Iterator[bytes]:
        with content.open() as handle:
            yield from _skip(handle, content, start)
            yield from _copy(handle, length)

    return chunks


def _copy(handle: BinaryIO, length: int) -> Iterator[bytes]:
    """Up to ``length`` bytes from ``handle`` in chunks of at most ``CHUNK_SIZE``; fewer
    when the file ended early (the client then sees a short body)."""
    remaining = length
    while remaining > 0:
        chunk = handle.read(min(CHUNK_SIZE, remaining))
        if not chunk:
            return
        remaining -= len(chunk)
        yield chunk


def _skip(handle: BinaryIO, content: Content, offset: int, position: int = 0) -> Iterator[bytes]:
    """Move ``handle`` from ``position`` to ``offset``.

    A file on disk seeks. A stream that can only be read forward (a compressed zip
    member) is read and discarded in steps of ``SKIP_STEP``, with an empty chunk after
    each, so the writer can stop between steps when the client has gone away.
    """
    if offset == position:
        return
    if content.path is not None:
        handle.seek(offset, os.SEEK_SET)
        return
    remaining = offset - position
    while remaining > 0:
        got = handle.read(min(SKIP_STEP, remaining))
        if not got:
            return
        remaining -= len(got)
        yield b""


def _multipart(content: Content, ranges: list[tuple[int, int]], headers: Headers) -> Response:
    """``multipart/byteranges`` for several ranges, streamed part by part.

    The length is known beforehand (each part's header is made up front, as Go's
    ``rangesMIMESize`` does), so the answer keeps its ``Content-Length``; bodies are read
    in chunks of at most ``CHUNK_SIZE`` from one open handle. Only a file already held
    in memory (small by construction) is answered in one piece.
    """
    boundary = secrets.token_hex(30).encode()
    ctype = content.content_type.encode()
    heads = [
        b"\r\n--%s\r\nContent-Range: bytes %d-%d/%d\r\nContent-Type: %s\r\n\r\n"
        % (boundary, start, start + length - 1, content.size, ctype)
        for start, length in ranges
    ]
    tail = b"\r\n--%s--\r\n" % boundary
    total = sum(map(len, heads)) + sum(length for _, length in ranges) + len(tail)

    def parts() -> Iterator[bytes]:
        data = content.data
        if data is not None:
            for head, (start, length) in zip(heads, ranges, strict=True):
                yield head
                for offset in range(start, start + length, CHUNK_SIZE):
                    yield data[offset : min(offset + CHUNK_SIZE, start + length)]
            yield tail
            return
        with content.open() as handle:
            position = 0
            for head, (start, length) in zip(heads, ranges, strict=True):
                yield head
                yield from _skip(handle, content, start, position)
                position = start + length
                yield from _copy(handle, length)
        yield tail

    headers.append((b"content-type", b"multipart/byteranges; boundary=" + boundary))
    if content.data is not None:  # a file held in memory: small, one body
        return Response(206, headers, b"".join(parts()), length=total)
    return Response(206, headers, stream=parts, length=total)


def _costly(content: Content, ranges: list[tuple[int, int]]) -> bool:
    """Whether serving ``ranges`` in their order would read parts of the file again.

    Files on disk and in memory seek for free; a compressed zip member can only be read
    forward, so a range before an earlier one would mean inflating the member from its
    start again, once per such range. Those requests get the whole file instead.
    """
    if content.data is not None or content.path is not None:
        return False
    end = 0
    for start, length in ranges:
        if start < end:
            return True
        end = start + length
    return False
