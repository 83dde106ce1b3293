"""``POST /api/v1/packages`` and ``DELETE /api/v1/packages/{name}/{version}``.

Routed only with ``-publish-tokens-file`` and ``-publish-path``. Each request is
authenticated (bearer token), rate limited per token, then:

- POST reads a ``multipart/form-data`` body as it arrives (never whole in memory) into
  temporary files — the ``package`` field (the zip) and an optional ``signature``
  field (its detached armored signature) — stopping as soon as it passes
  ``-publish-max-size`` (413) whatever ``Content-Length`` said. The store checks it with
  the zip loader's rules and gives it its final name; the main process then loads the
  package paths again, and the answer (201) is sent once every worker serves the result.
- DELETE removes a package stored in the publish path the same way (204).

Errors are JSON, ``{"error": "<text>"}``; every request writes one audit line.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import orjson
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from package_registry.observability.metrics import Metrics
from package_registry.publish.audit import audit
from package_registry.publish.ratelimit import retry_after
from package_registry.publish.service import Publishing
from package_registry.publish.store import PublishError, Upload
from package_registry.publish.tokens import Identity
from package_registry.web.request import Context, Request
from package_registry.web.responses import JSON_TYPE, NO_CACHE, Headers, Response

log = logging.getLogger("package_registry.publish")

REALM = b'Bearer realm="package-registry"'
#: Form fields of an upload, and what each is written to.
PACKAGE_FIELD, SIGNATURE_FIELD = "package", "signature"


def json_error(status: int, message: str, headers: Headers | None = None) -> Response:
    body = orjson.dumps({"error": message}) + b"\n"
    return Response(status, [*(headers or []), *NO_CACHE, JSON_TYPE], body)


def _client(request: Request) -> str | None:
    client = request.scope.get("client")
    return client[0] if client else None


class PublishRoutes:
    def __init__(self, ctx: Context, metrics: Metrics | None) -> None:
        assert ctx.publishing is not None
        self._pub: Publishing = ctx.publishing
        self._ctx = ctx
        self._metrics = metrics

    async def publish(self, request: Request) -> Response:
        if request.method != "POST":
            return json_error(405, "method not allowed: use POST", [(b"allow", b"POST")])
        who = None
        name = version = ""
        try:
            identity = self._authorize(request)
            who = identity.name
            name, version = await self._publish(request)
        except PublishError as err:
            return self._refused("publish", err, request, who, name, version)
        download = f"/epr/{name}/{name}-{version}.zip"
        body = {
            "name": name,
            "version": version,
            "path": f"/package/{name}/{version}",
            "download": download,
        }
        client = _client(request)
        audit(self._metrics, "publish", 201, who=who, client=client, name=name, version=version)
        headers = [*NO_CACHE, JSON_TYPE, (b"location", download.encode())]
        return Response(201, headers, orjson.dumps(body) + b"\n")

    async def delete(self, request: Request) -> Response:
        if request.method != "DELETE":
            return json_error(405, "method not allowed: use DELETE", [(b"allow", b"DELETE")])
        name, version = request.params["name"], request.params["version"]
        who = None
        try:
            who = self._authorize(request).name
            try:
                await asyncio.to_thread(self._pub.store.delete, name, version, self._served_now())
            except OSError as exc:
                log.error("deleting a package failed", extra={"error.message": str(exc)})
                raise PublishError(500, "deleting failed (see the registry's log)") from None
            await self._served()
        except PublishError as err:
            return self._refused("delete", err, request, who, name, version)
        client = _client(request)
        audit(self._metrics, "delete", 204, who=who, client=client, name=name, version=version)
        return Response(204, list(NO_CACHE))

    def _refused(
        self,
        action: str,
        err: PublishError,
        request: Request,
        who: str | None,
        name: str,
        version: str,
    ) -> Response:
        headers: Headers = []
        if err.status == 401:
            headers.append((b"www-authenticate", REALM))
        elif err.retry_after:
            headers.append((b"retry-after", b"%d" % err.retry_after))
        audit(
            self._metrics,
            action,
            err.status,
            who=who,
            client=_client(request),
            name=name,
            version=version,
            reason=err.message,
        )
        return json_error(err.status, err.message, headers)

    def _authorize(self, request: Request) -> Identity:
        scheme, _, token = request.headers.get("authorization", "").strip().partition(" ")
        identity = None
        if scheme.lower() == "bearer" and token.strip():
            identity = self._pub.tokens.authenticate(token.strip())
        if identity is None:
            raise PublishError(401, "a valid bearer token is required (Authorization: Bearer)")
        wait = self._pub.rate.take(identity.digest)
        if wait > 0:
            seconds = retry_after(wait)
            raise PublishError(
                429, f"too many requests for this token: retry in {seconds} s", seconds
            )
        return identity

    async def _publish(self, request: Request) -> tuple[str, str]:
        """Receive, check and store the upload; return its name and version once the
        catalog with it is served."""
        store = self._pub.store
        try:
            upload = store.upload()
            try:
                shown_as = await self._receive(request, upload)
                package = await asyncio.to_thread(store.check, upload, shown_as)
                served = self._served_now()
                stored = await asyncio.to_thread(store.store, upload, package, served)
            finally:
                upload.close()
        except OSError as exc:  # a full or read-only disk: the upload is not stored
            log.error("storing an upload failed", extra={"error.message": str(exc)})
            raise PublishError(500, "storing the upload failed (see the registry's log)") from None
        await self._served()
        return stored.name, stored.version

    def _served_now(self) -> Callable[[str, str], bool]:
        """Whether a name and version is in this worker's catalog (from any source)."""
        catalog = self._ctx.holder.current.catalog
        return lambda name, version: catalog.lookup(name, version) is not None

    async def _served(self) -> None:
        """Ask the main process for a catalog with the change; wait until it is served."""
        channel = self._pub.channel
        outcome = await channel.served(channel.request(), self._pub.reload_timeout)
        if outcome is None:
            raise PublishError(
                503,
                f"done on disk, but the new catalog was not served within "
                f"{self._pub.reload_timeout:.0f} s; it will be once loading finishes",
            )
        if not outcome:
            raise PublishError(
                503, "done on disk, but loading the package paths failed (see the registry's log)"
            )

    async def _receive(self, request: Request, upload: Upload) -> str:
        """Stream the form into ``upload``; returns the package's file name as sent."""
        kind, options = parse_options_header(request.headers.get("content-type", ""))
        boundary = options.get(b"boundary")
        if kind != b"multipart/form-data" or not boundary:
            raise PublishError(
                400,
                "the body must be multipart/form-data with the zip as the field 'package' "
                "(and its signature as 'signature')",
            )
        limit = self._pub.max_size
        declared = request.headers.get("content-length", "")
        if declared.strip().isdigit() and int(declared) > limit:
            raise PublishError(413, f"request body larger than {limit} bytes (-publish-max-size)")
        form = _Form(upload)
        parser = MultipartParser(boundary, form.callbacks())
        receive = request.receive
        assert receive is not None
        total = 0
        more = True
        try:
            while more:
                try:
                    message = await asyncio.wait_for(receive(), self._pub.body_timeout)
                except TimeoutError:
                    raise PublishError(408, "the request body stopped arriving") from None
                if message["type"] != "http.request":
                    raise PublishError(400, "the client closed the connection")
                chunk = message.get("body", b"")
                total += len(chunk)
                if total > limit:
                    raise PublishError(
                        413, f"request body larger than {limit} bytes (-publish-max-size)"
                    )
                more = message.get("more_body", False)
                parser.write(chunk)
            parser.finalize()
        except MultipartParseError as err:
            raise PublishError(400, f"malformed multipart/form-data body: {err}") from None
        return form.finished()


class _Form:
    """Where the parser's callbacks put each part: the package and signature fields into
    the upload's files; other fields are refused."""

    def __init__(self, upload: Upload) -> None:
        self._upload = upload
        self._field = b""
        self._value = b""
        self._headers: dict[bytes, bytes] = {}
        self._target: str | None = None
        self._seen: set[str] = set()
        self._filename = ""
        self._ended = False

    def callbacks(self) -> Any:
        return {
            "on_part_begin": self._begin,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._data,
            "on_end": self._end,
        }

    def _begin(self) -> None:
        self._headers = {}
        self._field = self._value = b""
        self._target = None

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]
        if len(self._field) > 1024:
            raise PublishError(400, "form part header too long")

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]
        if len(self._value) > 4096:
            raise PublishError(400, "form part header too long")

    def _header_end(self) -> None:
        self._headers[self._field.lower()] = self._value
        self._field = self._value = b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        if name not in (PACKAGE_FIELD, SIGNATURE_FIELD):
            raise PublishError(
                400, f"unexpected form field {name!r}: send 'package' and 'signature' only"
            )
        if name in self._seen:
            raise PublishError(400, f"form field {name!r} sent twice")
        self._seen.add(name)
        self._target = name
        if name == PACKAGE_FIELD:
            filename = options.get(b"filename", b"").decode("utf-8", "replace")
            self._filename = filename.replace("\\", "/").rpartition("/")[2]

    def _data(self, data: bytes, start: int, end: int) -> None:
        if self._target == PACKAGE_FIELD:
            self._upload.write_package(data[start:end])
        elif self._target == SIGNATURE_FIELD:
            self._upload.write_signature(data[start:end])

    def _end(self) -> None:
        self._ended = True

    def finished(self) -> str:
        if not self._ended:
            raise PublishError(400, "malformed multipart/form-data body: it ends early")
        if PACKAGE_FIELD not in self._seen or self._upload.package_bytes == 0:
            raise PublishError(400, "no package: send the zip as the form field 'package'")
        return self._filename or "package.zip"
