"""Uploads in the publish path: temporary files, the loader's checks, and the final names.

An upload is written to hidden temporary files at the top of ``-publish-path`` (the same
file system, so the final step is a rename; package discovery ignores files there that
do not end in ``.zip``), checked with exactly the rules the zip loader applies
(``sources.zips.load_zip``), and then given its final names: the signature first, the
zip last and without replacing anything (``link``), so the registry never sees a zip
whose signature is still missing. Temporary files are removed whatever happens.

One name and version is stored or deleted by one request at a time, across worker
processes: a ``flock`` on ``.publish-<name>-<version>.lock`` in the publish path, which
the kernel releases if its process dies.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from package_registry.packages.limits import LoadLimits
from package_registry.packages.model import Package
from package_registry.sources.base import Reject
from package_registry.sources.zips import load_zip

#: Largest signature part accepted: an armored detached signature is under 2 KiB.
MAX_SIGNATURE_BYTES = 64 * 1024
#: Names the download route (``/epr/{name}/{name}-{version}.zip``) can serve.
_NAME = re.compile(r"[a-z0-9_]+")
_VERSION = re.compile(r"[0-9A-Za-z][0-9A-Za-z.+-]*")
_PREFIX = ".publish-"


class PublishError(Exception):
    """A request the store refuses: the HTTP status and the text to answer with."""

    def __init__(self, status: int, message: str, retry_after: int = 0) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        #: Seconds after which the request may succeed (a rate limit's 429).
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Stored:
    name: str
    version: str
    #: The zip's path on disk.
    path: str


Verify = Callable[[Path, Path], None]


class Upload:
    """The temporary files of one upload; ``close`` removes whatever is left of them."""

    def __init__(self, folder: str) -> None:
        stem = os.path.join(folder, f"{_PREFIX}{secrets.token_hex(8)}.part")
        self.package_path = stem
        #: Beside the zip as ``<zip>.sig``: where the loader looks for it.
        self.signature_path = stem + ".sig"
        self._package: BinaryIO | None = _create(self.package_path)
        self._signature: BinaryIO | None = None
        self.package_bytes = 0
        self.signature_bytes = 0
        self.has_signature = False

    def write_package(self, data: bytes) -> None:
        assert self._package is not None
        self._package.write(data)
        self.package_bytes += len(data)

    def write_signature(self, data: bytes) -> None:
        self.signature_bytes += len(data)
        if self.signature_bytes > MAX_SIGNATURE_BYTES:
            raise PublishError(400, f"signature larger than {MAX_SIGNATURE_BYTES} bytes")
        if self._signature is None:
            self._signature = _create(self.signature_path)
            self.has_signature = True
        self._signature.write(data)

    def finish(self) -> None:
        """Flush both files to disk (before they are checked and renamed)."""
        for handle in (self._package, self._signature):
            if handle is not None:
                handle.flush()
                os.fsync(handle.fileno())
                handle.close()
        self._package = self._signature = None

    def close(self) -> None:
        for handle in (self._package, self._signature):
            if handle is not None:
                handle.close()
        self._package = self._signature = None
        for path in (self.package_path, self.signature_path):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)


def _create(path: str) -> BinaryIO:
    return os.fdopen(
        os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644), "wb"
    )


class PublishStore:
    """``-publish-path`` and the rules its packages are loaded with."""

    def __init__(
        self,
        path: str,
        *,
        validate: bool,
        require_signatures: bool,
        limits: LoadLimits,
        verify: Verify | None = None,
    ) -> None:
        self.path = path
        self.validate = validate
        self.require_signatures = require_signatures
        self.limits = limits
        #: Checks an uploaded signature (``-publish-verification-key``); raises if bad.
        self.verify = verify

    def upload(self) -> Upload:
        return Upload(self.path)

    def check(self, upload: Upload, shown_as: str) -> Package:
        """The package in ``upload`` if the registry would serve it, else PublishError 400
        with the loader's reason (the temporary path in it replaced by ``shown_as``)."""
        upload.finish()
        if self.require_signatures and not upload.has_signature:
            raise PublishError(
                400,
                "a signature is required (-require-package-signatures): send the package's "
                "detached armored signature as the form field 'signature'",
            )
        loaded = load_zip(
            upload.package_path,
            validate=self.validate,
            require_signatures=self.require_signatures,
            limits=self.limits,
        )
        if isinstance(loaded.result, Reject):
            raise PublishError(400, loaded.result.reason.replace(upload.package_path, shown_as))
        package = loaded.result
        if loaded.unsafe:
            raise PublishError(
                400, f"zip member {loaded.unsafe[0]!r} has an unsafe name ('..' or a leading '/')"
            )
        if _NAME.fullmatch(package.name) is None or _VERSION.fullmatch(package.version) is None:
            raise PublishError(
                400,
                f"package name {package.name!r} can't be served: names are lower-case letters,"
                " digits and '_'",
            )
        expected = f"{package.name}-{package.version}"
        if loaded.root != expected:
            raise PublishError(
                400,
                f"the package's top folder in the zip is {loaded.root!r}; a package "
                f"{package.name} {package.version} is built into {expected!r}",
            )
        if self.verify is not None and upload.has_signature:
            try:
                self.verify(Path(upload.package_path), Path(upload.signature_path))
            except Exception as exc:
                raise PublishError(400, f"signature verification failed: {exc}") from None
        return package

    def store(self, upload: Upload, package: Package, served: Callable[[str, str], bool]) -> Stored:
        """Give the checked upload its final names; 409 when that name and version exists
        (served from any package path, or on disk here) or is being stored already."""
        name, version = package.name, package.version
        zip_path = self._zip_path(name, version)
        with self._locked(name, version):
            if os.path.lexists(zip_path) or served(name, version):
                raise PublishError(409, f"package {name} {version} already exists")
            if upload.has_signature:
                os.replace(upload.signature_path, zip_path + ".sig")
            else:  # a signature left beside a deleted zip must not pass for this one's
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(zip_path + ".sig")
            try:
                os.link(upload.package_path, zip_path)
            except FileExistsError:
                raise PublishError(409, f"package {name} {version} already exists") from None
            _sync_folder(self.path)
        return Stored(name, version, zip_path)

    def delete(self, name: str, version: str, served: Callable[[str, str], bool]) -> None:
        """Remove ``<name>-<version>.zip`` and its signature from the publish path:
        404 when the package is nowhere, 409 when it is served from elsewhere."""
        if _NAME.fullmatch(name) is None or _VERSION.fullmatch(version) is None:
            raise PublishError(404, f"package {name} {version} not found")
        zip_path = self._zip_path(name, version)
        with self._locked(name, version):
            if not os.path.lexists(zip_path):
                if served(name, version):
                    raise PublishError(
                        409,
                        f"package {name} {version} is not stored in the publish path as "
                        f"{name}-{version}.zip: only published packages can be deleted",
                    )
                raise PublishError(404, f"package {name} {version} not found")
            os.unlink(zip_path)  # the package first: a signature alone is not served
            with contextlib.suppress(FileNotFoundError):
                os.unlink(zip_path + ".sig")
            _sync_folder(self.path)

    def _zip_path(self, name: str, version: str) -> str:
        return os.path.join(self.path, f"{name}-{version}.zip")

    @contextlib.contextmanager
    def _locked(self, name: str, version: str) -> Iterator[None]:
        path = os.path.join(self.path, f"{_PREFIX}{name}-{version}.lock")
        busy = PublishError(409, f"package {name} {version} is being published or deleted")
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                # Removed by its previous holder after we opened it: someone else's now.
                if os.stat(path).st_ino != os.fstat(fd).st_ino:
                    raise busy
            except (BlockingIOError, FileNotFoundError):
                raise busy from None
            try:
                yield
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
        finally:
            os.close(fd)


def _sync_folder(path: str) -> None:
    """Make the renames in ``path`` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
