"""Everything a worker needs to answer publish and delete requests, made at start-up."""

from __future__ import annotations

from dataclasses import dataclass

from package_registry.publish.channel import ReloadChannel
from package_registry.publish.ratelimit import RateLimit
from package_registry.publish.store import PublishStore
from package_registry.publish.tokens import TokenFile


@dataclass(frozen=True, slots=True)
class Publishing:
    tokens: TokenFile
    rate: RateLimit
    store: PublishStore
    #: Asks the main process for a catalog with what was stored or deleted.
    channel: ReloadChannel
    #: ``-publish-max-size``: bytes of a whole request body.
    max_size: int
    #: Seconds a request waits for the catalog with its change to be served.
    reload_timeout: float = 60.0
    #: Seconds the body may pause between two reads before the request is dropped.
    body_timeout: float = 60.0
