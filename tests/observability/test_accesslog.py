"""The request log line: the same bytes ecs-logging writes, without ``log.origin``."""

from __future__ import annotations

import io
import json
import logging

import ecs_logging
import pytest

from package_registry.observability.accesslog import (
    LineTarget,
    RequestLog,
    dotted,
    request_document,
    split_host,
)

SERVICE = {"name": "package-registry", "version": "1.2.3"}
NOW = 1764158867.9705

CASES = [
    pytest.param(
        ("GET", "/search", "kibana.version=8.15.0", 200, 31265, 0.000123, "127.0.0.1"),
        [(b"host", b"127.0.0.1:8080"), (b"user-agent", b"wrk"), (b"accept", b"*/*")],
        id="ip-client-with-port-and-query",
    ),
    pytest.param(
        ("HEAD", "/package/a/1.0.0/", "", 404, 0, 0.5, "client.example"),
        [(b"host", b"registry.example"), (b"referer", b"https://kibana/")],
        id="domain-client-referer-no-port",
    ),
    pytest.param(
        ("GET", "/", "", 200, 10, 0.0, None),
        [],
        id="no-client-no-headers",
    ),
    pytest.param(
        ("GET", "/epr/a/a-1.0.0.zip", "", 206, 100, 1e-6, "::1"),
        [(b"host", b"[::1]:8080"), (b"user-agent", b'quote " and \xc3\xa9')],
        id="ipv6-and-escapes",
    ),
    pytest.param(
        ("GET", "/categories", "", 200, 5, 0.001, "10.0.0.1"),
        [(b"host", b"h:0"), (b"host", b"second:9"), (b"user-agent", b"first")],
        id="first-header-wins-port-zero-dropped",
    ),
]


def ecs_logging_line(message: str, document: dict[str, object], service: dict[str, str]) -> bytes:
    """What ecs-logging's ``StdlibFormatter`` writes for the same fields at ``NOW``."""
    formatter = ecs_logging.StdlibFormatter(
        exclude_fields=["process", "log.original", "log.origin"]
    )
    record = logging.LogRecord("http", logging.INFO, __file__, 1, message, None, None)
    record.created = NOW
    record.msecs = (NOW - int(NOW)) * 1000
    record.__dict__.update({f"service.{k}": v for k, v in service.items()})
    record.__dict__.update(dotted(document))
    return formatter.format(record).encode() + b"\n"


def request_log(service: dict[str, str]) -> RequestLog:
    log = RequestLog()
    fields = {f"service.{k}": v for k, v in service.items()}
    log.configure(enabled=True, ecs=True, service=fields, stream=io.StringIO())
    return log


@pytest.mark.parametrize("trace", [None, ("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331")])
@pytest.mark.parametrize("service", [SERVICE, {"environment": "prod", **SERVICE}])
@pytest.mark.parametrize(("args", "headers"), CASES)
def test_line_is_what_ecs_logging_writes(args, headers, service, trace):
    method, path, query, status, sent, seconds, client = args
    service = dict(sorted(service.items()))
    document = request_document(
        method, path, query, status, sent, seconds, client, headers, service, trace
    )
    message = f"{method} {path} HTTP/1.1"
    fields = {k: v for k, v in document.items() if k not in ("log", "service")}
    log = request_log(service)
    target = LineTarget(path, query)
    ours = log.line(NOW, target, method, "1.1", status, sent, seconds, client, headers, trace)
    theirs = ecs_logging_line(message, fields, service)
    assert in_order(ours) == in_order(theirs)
    if ours.isascii():  # ecs-logging escapes non-ASCII text as \uXXXX; orjson writes UTF-8
        assert ours == theirs
    # Made again from the pieces kept (timestamp, host, agent, status, target): the same.
    again = log.line(NOW, target, method, "1.1", status, sent, seconds, client, headers, trace)
    assert again == ours


def test_pieces_kept_for_one_line_do_not_leak_into_the_next():
    log = request_log(SERVICE)
    target = LineTarget("/search", "a=1")
    first = log.line(NOW, target, "GET", "1.1", 200, 5, 0.0, "127.0.0.1", [(b"host", b"a:1")])
    later = NOW + 0.002  # two milliseconds on, another host, a HEAD, a 304
    second = log.line(later, target, "HEAD", "1.0", 304, 0, 0.0, "::1", [(b"host", b"b")])
    one, two = json.loads(first), json.loads(second)
    assert (one["@timestamp"], two["@timestamp"]) == (
        "2025-11-26T12:07:47.970Z",
        "2025-11-26T12:07:47.972Z",
    )
    assert two["message"] == "HEAD /search HTTP/1.0"
    assert two["http"] == {
        "request": {"method": "HEAD"},
        "response": {"body": {"bytes": 0}, "code": 304},
    }
    assert two["url"] == {"domain": "b", "path": "/search", "query": "a=1"}
    assert two["source"] == {"address": "::1", "ip": "::1"}
    assert one["url"] == {"domain": "a", "path": "/search", "port": 1, "query": "a=1"}


def in_order(line: bytes) -> str:
    """The line's JSON with keys in their written order and one escaping of text."""
    return json.dumps(json.loads(line), separators=(",", ":"))


def test_fields_follow_the_reference():
    document = request_document(
        "GET",
        "/search",
        "a=1",
        200,
        7,
        0.25,
        "192.0.2.1",
        [(b"host", b"[::1]:9"), (b"referer", b"r"), (b"user-agent", b"u")],
        SERVICE,
    )
    assert dotted(document) == {
        "event.duration": 250_000_000,
        "http.request.method": "GET",
        "http.request.referer": "r",
        "http.response.body.bytes": 7,
        "http.response.code": 200,
        "log.logger": "http",
        "service.name": "package-registry",
        "service.version": "1.2.3",
        "source.address": "192.0.2.1",
        "source.ip": "192.0.2.1",
        "url.domain": "[::1]",
        "url.path": "/search",
        "url.port": 9,
        "url.query": "a=1",
        "user_agent.original": "u",
    }


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("example.com", ("example.com", None)),
        ("example.com:8080", ("example.com", 8080)),
        ("example.com:0", ("example.com", None)),
        ("example.com:http", ("example.com", None)),
        ("[::1]:8080", ("[::1]", 8080)),
        ("[::1]", ("[::1]", None)),
    ],
)
def test_split_host(host, expected):
    assert split_host(host) == expected


def test_each_write_is_one_whole_line_on_the_descriptor(tmp_path):
    path = tmp_path / "log"
    with open(path, "w") as stream:
        log = RequestLog()
        log.configure(enabled=True, ecs=True, service={"service.name": "x"}, stream=stream)
        for n in range(3):
            log.write("GET", f"/{n}", "1.1", "", 200, n, 0.0, "127.0.0.1", [])
    lines = path.read_bytes().splitlines()
    assert [json.loads(line)["url"]["path"] for line in lines] == ["/0", "/1", "/2"]
    assert all("origin" not in json.loads(line)["log"] for line in lines)


def test_stream_without_descriptor_gets_text(tmp_path):
    stream = io.StringIO()
    log = RequestLog()
    log.configure(enabled=True, ecs=True, service={"service.name": "x"}, stream=stream)
    log.write("GET", "/a", "1.1", "", 200, 1, 0.0, None, [])
    assert json.loads(stream.getvalue())["message"] == "GET /a HTTP/1.1"


def test_dev_format_goes_through_the_logging_module(caplog, monkeypatch):
    log = RequestLog()
    log.configure(enabled=True, ecs=False, service={"service.name": "x"}, stream=io.StringIO())
    monkeypatch.setattr(logging.getLogger("http"), "propagate", True)
    with caplog.at_level(logging.INFO, logger="http"):
        log.write("GET", "/a", "1.1", "q=1", 200, 3, 0.0, "127.0.0.1", [(b"host", b"h:1")])
    (record,) = caplog.records
    assert record.getMessage() == "GET /a HTTP/1.1"
    assert record.__dict__["url.query"] == "q=1"
    assert record.__dict__["url.port"] == 1
    assert "service.name" not in record.__dict__
