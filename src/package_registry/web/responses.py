"""Responses as the reference writes them: headers, error bodies and file serving.

Everything here is about bytes on the wire — Cache-Control lines, plain-text errors,
``Last-Modified``/``If-Modified-Since``, ``Range`` — and nothing about packages. File
serving follows Go's ``http.ServeContent`` rules, which clients and the conformance
goldens rely on.
"""

from __future__ import annotations

import calendar
import functools
import io
import os
import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_tz
from typing import BinaryIO, Protocol

Headers = list[tuple[bytes, bytes]]

CHUNK_SIZE = 256 * 1024

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
    """Go's ``http.Error``: plain text, ``nosniff``, message plus a newline."""
    body = message.encode() + b"\n"
    return Response(status, [*(headers or []), TEXT_TYPE, NOSNIFF], body)


def bad_request(message: str) -> Response:
    return text_error(400, message, NO_CACHE)


def not_found(message: str) -> Response:
    return text_error(404, message, NO_CACHE)


def internal_error(headers: Headers | None = None) -> Response:
    return text_error(500, "internal server error", headers)


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


class _RangeError(Exception):
    """A ``Range`` header the reference answers with 416."""


class _NoOverlap(_RangeError):
    pass


def _parse_range(header: str, size: int) -> list[tuple[int, int]]:
    """Ranges as (start, length), following Go's ``parseRange`` rules exactly."""
    if not header.startswith("bytes="):
        raise _RangeError("invalid range")
    ranges: list[tuple[int, int]] = []
    no_overlap = False
    for part in header[len("bytes=") :].split(","):
        part = part.strip(" \t")
        if not part:
            continue
        start_text, sep, end_text = part.partition("-")
        if not sep:
            raise _RangeError("invalid range")
        start_text, end_text = start_text.strip(" \t"), end_text.strip(" \t")
        if not start_text:
            if not end_text or end_text[0] == "-" or not end_text.isdigit():
                raise _RangeError("invalid range")
            suffix = min(int(end_text), size)
            ranges.append((size - suffix, suffix))
            continue
        if not start_text.isdigit():
            raise _RangeError("invalid range")
        start = int(start_text)
        if start >= size:
            no_overlap = True
            continue
        if not end_text:
            ranges.append((start, size - start))
            continue
        if not end_text.isdigit() or start > int(end_text):
            raise _RangeError("invalid range")
        end = min(int(end_text), size - 1)
        ranges.append((start, end - start + 1))
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
    if sum(length for _, length in ranges) > content.size:
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
            _skip(handle, start)
            remaining = length
            while remaining > 0:
                chunk = handle.read(min(CHUNK_SIZE, remaining))
                if not chunk:
                    break
                remaining -= len(chunk)
                yield chunk

    return chunks


def _skip(handle: BinaryIO, offset: int) -> None:
    """Move to ``offset``: seek where possible, read and discard otherwise (zip members)."""
    if offset <= 0:
        return
    try:
        handle.seek(offset, os.SEEK_SET)
    except (OSError, ValueError):
        while offset > 0:
            got = handle.read(min(CHUNK_SIZE, offset))
            if not got:
                return
            offset -= len(got)


def _multipart(content: Content, ranges: list[tuple[int, int]], headers: Headers) -> Response:
    """``multipart/byteranges`` for several ranges, built in memory (parts are small)."""
    boundary = secrets.token_hex(30)
    parts: list[bytes] = []
    with _open(content) as handle:
        for start, length in ranges:
            handle_at = _read_range(handle, content, start, length)
            parts.append(
                b"\r\n--%s\r\nContent-Range: bytes %d-%d/%d\r\nContent-Type: %s\r\n\r\n"
                % (
                    boundary.encode(),
                    start,
                    start + length - 1,
                    content.size,
                    content.content_type.encode(),
                )
                + handle_at
            )
    body = b"".join(parts) + b"\r\n--%s--\r\n" % boundary.encode()
    headers.append((b"content-type", b"multipart/byteranges; boundary=" + boundary.encode()))
    return Response(206, headers, body=body, length=len(body))


def _open(content: Content) -> BinaryIO:
    """The file's bytes as a stream: from memory when held, else from its opener."""
    return io.BytesIO(content.data) if content.data is not None else content.open()


def _read_range(handle: BinaryIO, content: Content, start: int, length: int) -> bytes:
    try:
        handle.seek(start)
    except (OSError, ValueError):
        with content.open() as fresh:
            _skip(fresh, start)
            return fresh.read(length)
    return handle.read(length)
