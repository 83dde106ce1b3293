"""Package READMEs as HTML that is safe to put in a page.

Packages are untrusted input. The Markdown is rendered with raw HTML turned off (any tag
in the text comes out escaped, as text), and every link and image address is checked:
only ``http``, ``https`` and ``mailto`` addresses and relative ones survive, so
``javascript:``, ``data:`` and other schemes are never written. Relative addresses are
resolved against the README's own location in the package, so its images and links work.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin

from markdown_it import MarkdownIt
from markdown_it.token import Token

__all__ = ["render_readme"]

_SCHEME = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*):")
_ALLOWED_SCHEMES = frozenset({"http", "https", "mailto"})


def _safe_link(url: str) -> bool:
    """Whether the parser may keep ``url`` (after its own normalisation) as a link."""
    found = _SCHEME.match(url.strip())
    return found is None or found.group(1).lower() in _ALLOWED_SCHEMES


def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])
    md.validateLink = _safe_link  # type: ignore[method-assign]
    return md


_MD = _parser()


def _resolve(tokens: list[Token], base: str) -> None:
    """Make relative addresses absolute (from ``base``) and mark outside links."""
    for token in tokens:
        if token.children:
            _resolve(token.children, base)
        attr = "href" if token.type == "link_open" else "src" if token.type == "image" else None
        if attr is None:
            continue
        url = str(token.attrGet(attr) or "")
        if _SCHEME.match(url) or url.startswith("//"):  # another site
            if token.type == "link_open":
                token.attrSet("rel", "nofollow noopener noreferrer")
        elif not url.startswith("#"):
            token.attrSet(attr, urljoin(base, url))


def render_readme(text: str, base: str) -> str:
    """``text`` (Markdown) as sanitised HTML; relative addresses resolve against
    ``base``, the README's own URL."""
    env: dict[str, object] = {}
    tokens = _MD.parse(text, env)
    _resolve(tokens, base)
    return _MD.renderer.render(tokens, _MD.options, env)
