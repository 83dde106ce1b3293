"""Byte limits on what loading reads from a package, and the bounded reads that keep them.

A crafted package (a zip bomb, a manifest of tens of megabytes) must be refused at load
with a clear reason instead of exhausting memory or bloating every ``/search`` answer.
Every file the loader parses is read through a stream capped at its limit, and the
members of a zip are checked against their declared sizes before anything is inflated.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO, Protocol

from package_registry.config.flags import FLAGS_BY_NAME
from package_registry.packages.errors import ReaderError

if TYPE_CHECKING:
    from package_registry.config.settings import Settings

#: Members smaller than this are never refused for their compression ratio: a small
#: file of repeated text compresses well and cannot inflate to much.
RATIO_MIN_SIZE = 1 << 20


@dataclass(frozen=True, slots=True)
class SizeLimit:
    """At most ``size`` bytes, set by the flag ``flag`` (named in refusals)."""

    size: int
    flag: str

    def refuse(self, name: str) -> ReaderError:
        return ReaderError(
            f"read {name}: file is larger than the {self.size} bytes allowed (-{self.flag})"
        )


@dataclass(frozen=True, slots=True)
class LoadLimits:
    """The limits one load applies; each comes from its ``-package-max-*`` flag."""

    #: ``manifest.yml`` of a package and of each of its data streams.
    manifest: SizeLimit
    #: Any other YAML or JSON file the loader parses (fields, ingest pipelines).
    yaml: SizeLimit
    #: The uncompressed size of any member of a zip package.
    zip_member: SizeLimit
    #: Uncompressed size over compressed size, for zip members of ``RATIO_MIN_SIZE`` or more.
    zip_ratio: int

    @classmethod
    def from_values(
        cls, *, manifest: int, yaml: int, zip_member: int, zip_ratio: int
    ) -> LoadLimits:
        return cls(
            SizeLimit(manifest, "package-max-manifest-size"),
            SizeLimit(yaml, "package-max-yaml-size"),
            SizeLimit(zip_member, "package-max-zip-member-size"),
            zip_ratio,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> LoadLimits:
        """The ``-package-max-*`` flags of ``settings``."""
        return cls.from_values(
            manifest=settings.package_max_manifest_size,
            yaml=settings.package_max_yaml_size,
            zip_member=settings.package_max_zip_member_size,
            zip_ratio=settings.package_max_zip_ratio,
        )


def _default(flag: str) -> int:
    value = FLAGS_BY_NAME[flag].default
    assert isinstance(value, int)
    return value


DEFAULT_LIMITS = LoadLimits.from_values(
    manifest=_default("package-max-manifest-size"),
    yaml=_default("package-max-yaml-size"),
    zip_member=_default("package-max-zip-member-size"),
    zip_ratio=_default("package-max-zip-ratio"),
)


def read_bounded(stream: BinaryIO, limit: SizeLimit, name: str, size: int) -> bytes:
    """All of ``stream``, or ``ReaderError`` as soon as it passes ``limit``.

    ``size`` is what the file says it holds: refused at once when over the limit, else
    the buffer to read into (one byte more, to see a file that holds more than it says).
    """
    if size > limit.size:
        raise limit.refuse(name)
    data = stream.read(size + 1)
    if len(data) > size:
        data += stream.read(limit.size + 1 - len(data))
    if len(data) > limit.size:
        raise limit.refuse(name)
    return data


class ZipMember(Protocol):
    """What the member check reads from a ``zipfile.ZipInfo``."""

    filename: str
    file_size: int
    compress_size: int


def check_zip_members(members: Iterable[ZipMember], limits: LoadLimits) -> None:
    """Refuse an archive with a member over the size limit or inflating beyond the ratio.

    Declared sizes are checked here; reads stay bounded anyway, since an archive can lie.
    """
    for info in members:
        if info.file_size > limits.zip_member.size:
            raise ReaderError(
                f"zip member {info.filename} inflates to {info.file_size} bytes, more than"
                f" the {limits.zip_member.size} allowed (-{limits.zip_member.flag})"
            )
        if info.file_size >= RATIO_MIN_SIZE and info.file_size > limits.zip_ratio * max(
            info.compress_size, 1
        ):
            ratio = info.file_size // max(info.compress_size, 1)
            raise ReaderError(
                f"zip member {info.filename} inflates {ratio} times ({info.compress_size} bytes"
                f" to {info.file_size}), more than the {limits.zip_ratio} allowed"
                " (-package-max-zip-ratio)"
            )
