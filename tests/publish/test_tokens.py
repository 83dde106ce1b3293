"""The tokens file's syntax and the per-token rate limit, without a server."""

from __future__ import annotations

import hashlib
import logging

import pytest

from package_registry.publish.ratelimit import RateLimit, retry_after
from package_registry.publish.tokens import TokenFile, parse_tokens

TOKEN = "0123456789abcdef-token"


def test_lines_labels_and_digests(tmp_path, caplog: pytest.LogCaptureFixture):
    digest = hashlib.sha256(b"digest-only-token-xyz").hexdigest()
    text = "\n".join(
        [
            "# comment",
            "",
            f"ci:{TOKEN}",
            f"sha256:{digest}",
            f"bot:sha256:{digest.upper()}",
            "with:colons:in-the-token-0123",
            "short",
            "bad label:0123456789abcdef0123",
        ]
    )
    with caplog.at_level(logging.WARNING, "package_registry.publish"):
        entries = parse_tokens(text, "tokens")
    assert [e.name for e in entries] == ["ci", digest[:8], "bot", "with"]
    assert entries[3].digest == hashlib.sha256(b"colons:in-the-token-0123").digest()
    skipped = [(r.__dict__["file.line"], r.getMessage()) for r in caplog.records]
    assert [line for line, _ in skipped] == [7, 8]
    assert all("0123456789abcdef0123" not in message for _, message in skipped)
    path = tmp_path / "tokens"
    path.write_text(text)
    tokens = TokenFile(str(path))
    assert tokens.load() == 4
    assert tokens.authenticate(TOKEN).name == "ci"
    assert tokens.authenticate("digest-only-token-xyz").name == digest[:8]
    assert tokens.authenticate("sha256:" + digest) is None
    assert tokens.authenticate("short") is None


def test_rate_limit_refills_per_minute():
    now = [0.0]
    limit = RateLimit(2, clock=lambda: now[0])
    assert limit.take(b"a") == 0 and limit.take(b"a") == 0
    wait = limit.take(b"a")
    assert wait == pytest.approx(30.0) and retry_after(wait) == 30
    assert limit.take(b"b") == 0  # tokens are limited one by one
    now[0] = 30.0
    assert limit.take(b"a") == 0
    assert RateLimit(0).take(b"a") == 0
