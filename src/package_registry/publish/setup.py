"""Turning the ``-publish-*`` settings into ``Publishing``, or a clear reason not to start."""

from __future__ import annotations

import os

from package_registry.config import Settings
from package_registry.distribution.signatures import SignatureError, Verifier
from package_registry.packages.limits import LoadLimits
from package_registry.publish.channel import ReloadChannel
from package_registry.publish.ratelimit import RateLimit
from package_registry.publish.service import Publishing
from package_registry.publish.store import PublishStore
from package_registry.publish.tokens import TokenFile


class PublishSetupError(Exception):
    """Publishing is configured in a way the registry refuses to start with."""


def open_publishing(settings: Settings) -> tuple[Publishing, Verifier | None]:
    """``Publishing`` for ``settings`` and the signature verifier it holds (to close at
    exit), made before workers are forked."""
    if not (settings.publish_tokens_file and settings.publish_path):
        raise PublishSetupError("publishing needs both -publish-tokens-file and -publish-path")
    path = settings.publish_path
    real = os.path.realpath(path)
    if real not in {os.path.realpath(p) for p in settings.package_paths}:
        raise PublishSetupError(
            f"-publish-path {path} is not one of the package paths ("
            + ", ".join(settings.package_paths)
            + "): published packages would not be served"
        )
    if not os.path.isdir(path) or not os.access(path, os.W_OK | os.X_OK):
        raise PublishSetupError(f"-publish-path {path} is not a writable directory")
    tokens = TokenFile(settings.publish_tokens_file)
    try:
        tokens.load()
    except (OSError, ValueError) as exc:
        raise PublishSetupError(
            f"can't read -publish-tokens-file {settings.publish_tokens_file}: {exc}"
        ) from None
    verifier = None
    if settings.publish_verification_key:
        try:
            with open(settings.publish_verification_key, "rb") as handle:
                verifier = Verifier(handle.read())
        except (OSError, SignatureError) as exc:
            raise PublishSetupError(
                f"can't use -publish-verification-key {settings.publish_verification_key}: {exc}"
            ) from None
    store = PublishStore(
        path,
        validate=not settings.disable_package_validation,
        require_signatures=settings.require_package_signatures,
        limits=LoadLimits.from_settings(settings),
        verify=verifier.verify if verifier is not None else None,
    )
    publishing = Publishing(
        tokens=tokens,
        rate=RateLimit(settings.publish_rate_limit),
        store=store,
        channel=ReloadChannel(),
        max_size=settings.publish_max_size,
    )
    return publishing, verifier
