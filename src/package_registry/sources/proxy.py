"""The upstream registry of proxy mode, over HTTP.

``Upstream`` asks another registry (``-proxy-to``) for ``/search``, ``/categories`` and
``/package/{name}/{version}/`` and decodes the answers into the package model. Requests
go to the origin of ``-proxy-to`` (scheme and host; a path prefix is ignored, as in the
reference). Each attempt has a 10 s budget; an attempt is retried, with exponential
back-off from 1 s to 15 s (``Retry-After`` honoured on 429 and 503), after a connection
error, a 429, a 5xx other than 501, or a 2xx whose ``Content-Type`` is not JSON and that
has no ``Location``. The outgoing timeouts bound connecting, each wait for bytes, and
the whole request with its retries (``-outgoing-total-timeout``). Every failure ends as
``UpstreamError``, whose text says why.

Identical requests that arrive while one is in flight wait for that one instead of
asking again (single-flight, per worker): a burst of the same ``/search`` costs the
upstream one request, after which the answer caches of the routes take over.

The HTTP client (httpx) is asynchronous and made lazily inside the running event loop:
workers are forked after start-up, and each one gets its own client and connection pool.
httpx itself is imported on first use, so a registry without proxy mode never loads it.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import os
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from package_registry import __version__
from package_registry.config.outgoing import OutgoingTimeouts
from package_registry.gotext import escape_path
from package_registry.packages.jsonmodel import (
    JsonModelError,
    RemoteCategory,
    decode_categories,
    decode_package,
    decode_packages,
)
from package_registry.packages.model import Package

T = TypeVar("T")

if TYPE_CHECKING:
    import httpx

__all__ = ["BACKOFF_SCALE_VARIABLE", "RetryPolicy", "Upstream", "UpstreamError"]

log = logging.getLogger("package_registry.proxy")

#: Environment variable multiplying every back-off delay (tests set it near zero).
BACKOFF_SCALE_VARIABLE = "PACKAGE_REGISTRY_PROXY_BACKOFF_SCALE"


class UpstreamError(Exception):
    """The upstream registry could not give a usable answer; ``str`` is the reason."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently the upstream is asked."""

    #: Retries after the first attempt.
    retries: int = 4
    #: Seconds one attempt may take, body included.
    timeout: float = 10.0
    #: Back-off before retry ``n`` (from 0) is ``backoff_min * 2**n``, capped at ``backoff_max``.
    backoff_min: float = 1.0
    backoff_max: float = 15.0
    #: Seconds all attempts of one request may take together (``-outgoing-total-timeout``).
    deadline: float = 60.0

    def scaled(self, factor: float) -> RetryPolicy:
        """The same policy with every back-off delay multiplied by ``factor``."""
        return RetryPolicy(
            retries=self.retries,
            timeout=self.timeout,
            backoff_min=self.backoff_min * factor,
            backoff_max=self.backoff_max * factor,
            deadline=self.deadline,
        )

    def backoff(self, retry: int, retry_after: float | None) -> float:
        """Seconds to wait before retry number ``retry`` (0 for the first)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.backoff_max)
        return min(self.backoff_min * 2**retry, self.backoff_max)


def backoff_scale(environ: Mapping[str, str]) -> float:
    """The back-off multiplier from ``BACKOFF_SCALE_VARIABLE`` (1 when unset or invalid)."""
    try:
        value = float(environ.get(BACKOFF_SCALE_VARIABLE, "1"))
    except ValueError:
        return 1.0
    return value if value >= 0 else 1.0


def _retry_after(response: httpx.Response) -> float | None:
    """``Retry-After`` of a 429 or 503, in seconds (a number or an HTTP date)."""
    if response.status_code not in (429, 503):
        return None
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return when.timestamp() - time.time()


def _retry_reason(response: httpx.Response) -> str | None:
    """Why ``response`` should be asked for again, or ``None`` if it is final."""
    status = response.status_code
    if status == 429 or (500 <= status <= 599 and status != 501):
        return f"status {status}"
    if 200 <= status <= 299 and "location" not in response.headers:
        content_type = response.headers.get("content-type", "")
        if not content_type.lower().startswith("application/json"):
            return f"status {status} with Content-Type {content_type!r}"
    return None


class Upstream:
    """The ``-proxy-to`` registry; one instance per process, shared by all requests."""

    def __init__(
        self,
        proxy_to: str,
        policy: RetryPolicy | None = None,
        timeouts: OutgoingTimeouts | None = None,
    ) -> None:
        parts = urllib.parse.urlsplit(proxy_to)
        #: ``scheme://[user@]host[:port]``: where requests go.
        self.origin = f"{parts.scheme}://{parts.netloc}"
        #: ``scheme://host[:port]``: where clients are redirected (no credentials).
        self.public_origin = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"
        self.policy = policy or RetryPolicy()
        #: Connect and read limits of each attempt (the total is ``policy.deadline``).
        self.timeouts = timeouts or OutgoingTimeouts()
        self._client: httpx.AsyncClient | None = None
        self._client_owner: tuple[int, int] | None = None
        #: Calls in flight by what they ask, for the running loop's client.
        self._in_flight: dict[Hashable, asyncio.Future[Any]] = {}

    def __repr__(self) -> str:
        return f"<Upstream {self.public_origin}>"

    # --- HTTP ---------------------------------------------------------------------------

    def _http(self) -> httpx.AsyncClient:
        """This process's client for the running event loop, made on first use."""
        import httpx

        owner = (os.getpid(), id(asyncio.get_running_loop()))
        if self._client is None or self._client_owner != owner:
            self._client = httpx.AsyncClient(
                follow_redirects=True,
                timeout=self.timeouts.httpx(),
                limits=httpx.Limits(
                    max_connections=100, max_keepalive_connections=100, keepalive_expiry=90
                ),
                headers={"user-agent": f"package-registry/{__version__}"},
            )
            self._client_owner = owner
            self._in_flight = {}
        return self._client

    async def _shared(self, key: Hashable, call: Callable[[], Awaitable[T]]) -> T:
        """``call()``'s result, asked once for all callers with the same ``key`` while
        it is in flight. A caller that gives up (its client left) does not cancel the
        call for the others."""
        self._http()  # binds the in-flight table to this process and loop
        in_flight = self._in_flight
        future = in_flight.get(key)
        if future is None:
            future = asyncio.ensure_future(call())
            in_flight[key] = future

            def forget(done: asyncio.Future[Any]) -> None:
                if in_flight.get(key) is done:
                    del in_flight[key]
                if not done.cancelled():
                    done.exception()  # retrieved here, so no waiter is required

            future.add_done_callback(forget)
        return await asyncio.shield(future)

    async def aclose(self) -> None:
        """Close the client of the running loop, if one was made."""
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def get(self, path_and_query: str) -> httpx.Response:
        """GET ``origin + path_and_query`` with the retry policy; the final response.

        Raises ``UpstreamError`` when every attempt failed or asked to be retried.
        """
        import httpx

        url = self.origin + path_and_query
        policy = self.policy
        client = self._http()
        started = time.monotonic()
        reason = ""
        for attempt in range(policy.retries + 1):
            retry_after = None
            left = policy.deadline - (time.monotonic() - started)
            try:
                async with asyncio.timeout(min(policy.timeout, left)):
                    response = await client.get(url)
            except httpx.InvalidURL as exc:
                raise UpstreamError(f"GET {url}: {exc}") from None
            except (httpx.HTTPError, TimeoutError) as exc:
                reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            else:
                retry = _retry_reason(response)
                if retry is None:
                    return response
                reason = retry
                retry_after = _retry_after(response)
            if attempt == policy.retries:
                break
            delay = policy.backoff(attempt, retry_after)
            if time.monotonic() - started + delay >= policy.deadline:
                reason += " (outgoing total timeout reached)"
                break
            log.debug(
                "proxy mode: retrying upstream request",
                extra={"url.full": url, "error.message": reason, "event.sequence": attempt + 1},
            )
            await asyncio.sleep(delay)
        raise UpstreamError(f"GET {url}: giving up after {attempt + 1} attempts: {reason}")

    # --- routes -------------------------------------------------------------------------

    async def _get_json(self, path_and_query: str) -> bytes:
        response = await self.get(path_and_query)
        if not 200 <= response.status_code <= 299:
            raise UpstreamError(f"GET {response.url}: status {response.status_code}")
        return response.content

    async def search(self, raw_query: str) -> list[Package]:
        """The upstream ``/search`` answer for the same raw query, decoded."""
        return await self._shared(
            ("/search", raw_query),
            lambda: self._decoded("/search", raw_query, decode_packages),
        )

    async def categories(self, raw_query: str) -> list[RemoteCategory]:
        """The upstream ``/categories`` answer for the same raw query, decoded."""
        return await self._shared(
            ("/categories", raw_query),
            lambda: self._decoded("/categories", raw_query, decode_categories),
        )

    async def _decoded(self, route: str, raw_query: str, decode: Callable[[bytes], T]) -> T:
        """``route`` asked with ``raw_query``; its JSON decoded by ``decode``."""
        path = route + (f"?{raw_query}" if raw_query else "")
        data = await self._get_json(path)
        try:
            return decode(data)
        except JsonModelError as exc:
            raise UpstreamError(f"GET {self.origin}{path}: {exc}") from None

    async def package(self, name: str, version: str) -> Package | None:
        """The upstream package ``name``/``version``; ``None`` if the upstream has none."""
        return await self._shared(("/package", name, version), lambda: self._package(name, version))

    async def _package(self, name: str, version: str) -> Package | None:
        path = escape_path(f"/package/{name}/{version}/")
        response = await self.get(path)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise UpstreamError(f"GET {response.url}: status {response.status_code}")
        try:
            return decode_package(response.content)
        except JsonModelError as exc:
            raise UpstreamError(f"GET {self.origin}{path}: {exc}") from None

    # --- where clients are sent -----------------------------------------------------------

    def file_url(self, name: str, version: str, file: str) -> str:
        """A file inside an upstream package."""
        return self.public_origin + escape_path(f"/package/{name}/{version}/{file}")

    def download_url(self, name: str, version: str, suffix: str) -> str:
        """An upstream download (``.zip``, ``.zip.sig``, ``.tar.gz``), under the literal
        ``/epr/package/`` directory as the reference redirects."""
        return self.public_origin + escape_path(f"/epr/package/{name}-{version}{suffix}")
