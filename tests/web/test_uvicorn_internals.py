"""The start-up check of what the worker protocol uses of uvicorn's private protocol."""

from __future__ import annotations

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from package_registry.web.uvicorn_internals import protocol_problems


class WithoutPipeline(HttpToolsProtocol):
    """A protocol as a future uvicorn might have it: one attribute gone, one method."""

    on_response_complete = None  # type: ignore[assignment]

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        del self.pipeline


def test_the_installed_uvicorn_has_what_the_protocol_uses():
    assert protocol_problems() == []


def test_a_changed_protocol_is_reported():
    assert protocol_problems(WithoutPipeline) == ["pipeline", "on_response_complete()"]
