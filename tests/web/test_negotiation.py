"""``Accept-Encoding`` read with its weights (RFC 9110), as the server decides gzip."""

from __future__ import annotations

import pytest

from package_registry.web.negotiation import gzip_accepted


@pytest.mark.parametrize(
    ("header", "gzip"),
    [
        (None, False),
        ("", False),
        ("gzip", True),
        ("gzip, deflate, br", True),
        ("x-gzip", True),
        ("GZip", True),
        ("gzip;level=1", True),
        ("gzip;q=0", False),
        ("GZIP;Q=0", False),
        ("gzip ; q=0.000", False),
        ("gzip;q=0.", False),
        ("gzip;q=0.001", True),
        ("*", True),
        ("*;q=0", False),
        ("gzip;q=0, *", False),
        ("*;q=0, gzip", True),
        ("deflate, br", False),
        ("gzipped", False),
        ("identity", False),
        ("identity;q=0, gzip", True),
        ("identity, gzip;q=0.5", False),
        ("gzip;q=0.5, identity;q=0.4", True),
        ("*;q=0.9, gzip;q=0.5", False),
        ("gzip;q=2", False),
        ("gzip;q=abc", False),
        ("gzip;q=1.0001", False),
        ("br;q=1, gzip;q=0.8, *;q=0.1", True),
    ],
)
def test_gzip_is_chosen_by_weight(header, gzip):
    assert gzip_accepted(header) is gzip


def test_long_headers_are_read_without_being_remembered():
    header = "br;q=0.1, " * 100 + "gzip;q=0"
    assert gzip_accepted(header) is False
    assert gzip_accepted(header.replace("gzip;q=0", "gzip")) is True


def test_raw_header_bytes_are_read_alike():
    assert gzip_accepted(b"gzip;q=0") is False
    assert gzip_accepted(b"GZIP") is True
