"""``package-registry-distribution <config.yaml>``: copy a set of packages out of a registry.

For an air-gapped registry: the packages that a list of ``/search`` queries (crossed
with a ``matrix`` of Kibana versions and the like) and a list of pinned name/version
pairs select are printed and/or downloaded, zip and signature side by side in one
folder, each signature verified. The folder can then be carried over and served as a
package path of this registry. Messages, output lines and the exit status (255 on any
error) are the reference tool's; a progress bar is shown on a terminal.
"""

from __future__ import annotations

import asyncio
import os
import posixpath
import sys
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from package_registry.config.outgoing import OutgoingTimeouts
from package_registry.distribution.config import (
    Action,
    DistributionConfig,
    DistributionConfigError,
    parse_config,
)
from package_registry.distribution.signatures import ELASTIC_KEY, SignatureError, Verifier
from package_registry.packages.versions import Version, VersionError

#: Exit status of every failure, as the reference's ``os.Exit(-1)``.
FAILED = 255
#: Downloads running at once.
PARALLEL_DOWNLOADS = 8
#: The registry's own outgoing limits: a search may take the total, a download may go on
#: as long as bytes keep arriving within the read timeout.
TIMEOUTS = OutgoingTimeouts()


@dataclass(frozen=True, slots=True)
class PackageRef:
    """A package to act on: where its zip and signature are, relative to a registry."""

    name: str
    version: str
    download: str
    signature_path: str


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    args = list(sys.argv if argv is None else argv)
    if len(args) != 2:
        print(f"{args[0] if args else 'package-registry-distribution'} [config.yaml]")
        return FAILED
    path = args[1]
    try:
        config = parse_config(Path(path).read_text())
    except (OSError, UnicodeDecodeError, DistributionConfigError) as err:
        print(f"failed to read configuration from {path}: {err}")
        return FAILED
    return asyncio.run(distribute(config))


async def distribute(config: DistributionConfig) -> int:
    """Collect the packages ``config`` selects and run its actions on each."""
    try:
        verifier = _verifier(config) if any(a.name == "download" for a in config.actions) else None
        for action in config.actions:
            if action.name == "download":
                _prepare_download(action, config)
    except (OSError, SignatureError) as err:
        print(f"failed to initialize actions: {err}")
        return FAILED
    try:
        async with httpx.AsyncClient(timeout=TIMEOUTS.httpx(), follow_redirects=True) as client:
            try:
                packages = await collect(client, config)
            except (CollectError, httpx.HTTPError, ValueError) as err:
                print(f"failed to collect packages: {err}")
                return FAILED
            errors = await _act(client, config, packages, verifier)
    finally:
        if verifier is not None:
            verifier.close()
    if errors:
        print("\n".join(sorted(errors)))
        return FAILED
    print(f"{len(packages)} packages total")
    return 0


class CollectError(Exception):
    """A search that did not give a usable answer."""


def search_urls(config: DistributionConfig) -> list[str]:
    """One ``/search`` URL per matrix entry and query (query values win), keys sorted."""
    base = config.address.rstrip("/") + "/search"
    urls = []
    for row in config.matrix or [{}]:
        for query in config.queries:
            parameters = {**row, **query}
            encoded = urllib.parse.urlencode(sorted(parameters.items()))
            urls.append(f"{base}?{encoded}" if encoded else base)
    return urls


async def collect(client: httpx.AsyncClient, config: DistributionConfig) -> list[PackageRef]:
    """Pinned packages and every search result, once each, by name then version."""
    urls = search_urls(config)
    answers = await asyncio.gather(*(_search(client, url) for url in urls))
    found: dict[tuple[str, str], PackageRef] = {}
    for pinned in config.packages:
        download = f"epr/{pinned.name}/{pinned.name}-{pinned.version}.zip"
        ref = PackageRef(pinned.name, pinned.version, download, download + ".sig")
        found.setdefault((ref.name, ref.version), ref)
    for url, results in zip(urls, answers, strict=True):
        print(f"{url} {len(results)} packages")
        for item in results:
            ref = PackageRef(
                str(item.get("name", "")),
                str(item.get("version", "")),
                str(item.get("download", "")),
                str(item.get("signature_path", "")),
            )
            found.setdefault((ref.name, ref.version), ref)
    return sorted(found.values(), key=_order)


def _order(ref: PackageRef) -> tuple[str, bool, Version | None]:
    """By name, then by semantic version; versions that do not parse come first."""
    try:
        version = Version.parse_loose(ref.version)
    except VersionError:
        return (ref.name, False, None)
    return (ref.name, True, version)


async def _search(client: httpx.AsyncClient, url: str) -> list[dict[str, object]]:
    try:
        async with asyncio.timeout(TIMEOUTS.total):
            response = await client.get(url)
    except httpx.HTTPError as err:
        raise CollectError(f"failed to GET {url}: {err}") from None
    except TimeoutError:
        raise CollectError(f"failed to GET {url}: no answer within {TIMEOUTS.total:g}s") from None
    if response.status_code != 200:
        raise CollectError(f"failed to GET {url} (status code {response.status_code})")
    try:
        results = response.json()
    except ValueError as err:
        raise CollectError(f"failed to parse search response: {err}") from None
    if not isinstance(results, list):
        raise CollectError("failed to parse search response: expected a list of packages")
    return [item for item in results if isinstance(item, dict)]


# ----------------------------------------------------------------------------- actions


def _verifier(config: DistributionConfig) -> Verifier:
    key = Path(config.public_key).read_bytes() if config.public_key else ELASTIC_KEY.read_bytes()
    return Verifier(key)


def _prepare_download(action: Action, config: DistributionConfig) -> None:
    if not action.destination:
        raise OSError("download: destination is not set")
    os.makedirs(action.destination, mode=0o755, exist_ok=True)
    source = action.address or config.address
    print(f"downloading packages from {source} to {action.destination}", file=sys.stderr)


async def _act(
    client: httpx.AsyncClient,
    config: DistributionConfig,
    packages: list[PackageRef],
    verifier: Verifier | None,
) -> list[str]:
    """Run the actions on every package; the errors, one text each."""
    errors: list[str] = []
    downloads = [a for a in config.actions if a.name == "download"]
    for action in config.actions:
        if action.name == "print":
            for ref in packages:
                print(f"-  {ref.name} {ref.version}")
    if not downloads:
        return errors
    assert verifier is not None
    limit = asyncio.Semaphore(PARALLEL_DOWNLOADS)
    console = Console(stderr=True)
    with Progress(
        TextColumn("downloading"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    ) as progress:
        task = progress.add_task("downloading", total=len(packages) * len(downloads))

        async def one(action: Action, ref: PackageRef) -> None:
            async with limit:
                try:
                    await _download(client, action, config, ref, verifier)
                except DownloadError as err:
                    errors.append(str(err))
                progress.advance(task)

        await asyncio.gather(*(one(action, ref) for action in downloads for ref in packages))
    return errors


class DownloadError(Exception):
    """A package that could not be downloaded and verified."""


async def _download(
    client: httpx.AsyncClient,
    action: Action,
    config: DistributionConfig,
    ref: PackageRef,
    verifier: Verifier,
) -> None:
    """Download ``ref``'s zip and signature unless both are there and verify."""
    if not ref.signature_path:
        raise DownloadError(f"package {ref.name}-{ref.version} has no signature path")
    folder = Path(action.destination)
    signed = folder / posixpath.basename(ref.download)
    signature = folder / posixpath.basename(ref.signature_path)
    try:
        await asyncio.to_thread(verifier.verify, signed, signature)
        return  # already there and good
    except FileNotFoundError:
        pass
    except SignatureError as err:
        print(f"existing file invalid for {ref.download}, re-downloading: {err}", file=sys.stderr)
    address = action.address or config.address
    try:
        await _fetch(client, address, ref.download, signed)
    except DownloadError as err:
        raise DownloadError(f"failed to download package {ref.download}: {err}") from None
    try:
        await _fetch(client, address, ref.signature_path, signature)
    except DownloadError as err:
        signed.unlink(missing_ok=True)
        raise DownloadError(f"failed to download signature {ref.signature_path}: {err}") from None
    try:
        await asyncio.to_thread(verifier.verify, signed, signature)
    except (SignatureError, FileNotFoundError) as err:
        signed.unlink(missing_ok=True)
        signature.unlink(missing_ok=True)
        raise DownloadError(f"signature verification failed for {ref.download}: {err}") from None


async def _fetch(client: httpx.AsyncClient, address: str, path: str, target: Path) -> None:
    """GET ``address``/``path`` into ``target`` (through a partial file, renamed at the end)."""
    url = address.rstrip("/") + "/" + path.lstrip("/")
    partial = target.with_name(target.name + ".partial")
    try:
        async with client.stream("GET", url) as response:
            if response.status_code != 200:
                raise DownloadError(f"failed to get {path} (status code {response.status_code})")
            with open(partial, "wb") as out:
                async for chunk in response.aiter_bytes():
                    out.write(chunk)
        os.replace(partial, target)
    except (httpx.HTTPError, OSError) as err:
        raise DownloadError(f"failed to get {path}: {err}") from None
    finally:
        partial.unlink(missing_ok=True)
