"""The ``nginx.conf`` written beside a static tree: the tree served as the registry would.

Each route family gets the registry's content type and its two ``Cache-Control``
lines, every answer ``Access-Control-Allow-Origin: *``; ``/search`` and ``/categories``
without a query are the tree's default answers, with one they are forwarded to a
running registry (whose own headers then pass through). Content types follow the
registry's extension table; the few files whose type the registry sniffs from their
bytes get an exact location each unless their extension tells nginx the same type.
"""

from __future__ import annotations

import posixpath
from collections import defaultdict
from urllib.parse import urlsplit

from package_registry.web.mime import BY_EXTENSION
from package_registry.web.request import CacheTimes

#: nginx's type for a file whose extension it does not know (the registry's usual sniff).
DEFAULT_TYPE = "text/plain; charset=utf-8"


def registry_address(url: str) -> str:
    """``scheme://host[:port]`` of ``url``; raises ``ValueError`` for anything else
    (nginx forwards the request's own path and query to it)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{url!r} is not an http(s) URL")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"{url!r} must have no path or query")
    return f"{parts.scheme}://{parts.netloc}"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _headers(seconds: float, indent: str) -> str:
    return (
        f'{indent}add_header Cache-Control "max-age={round(seconds)}";\n'
        f"{indent}add_header Cache-Control public;\n"
        f'{indent}add_header Access-Control-Allow-Origin "*" always;\n'
    )


def _nginx_extension(path: str) -> str:
    """The extension nginx picks a type by: after the last dot of the last segment."""
    name = posixpath.basename(path)
    return name.rpartition(".")[2].lower() if "." in name else ""


def sniffed_types(sniffed: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """(extension → type) for extensions nginx can be told, and (URL path → type) for
    the files that need a location of their own."""
    by_extension: dict[str, set[str]] = defaultdict(set)
    for relpath, content_type in sniffed.items():
        by_extension[_nginx_extension(relpath)].add(content_type)
    extensions = {
        ext: next(iter(types))
        for ext, types in by_extension.items()
        if ext and f".{ext}" not in BY_EXTENSION and len(types) == 1
    }
    exact = {}
    for relpath, content_type in sorted(sniffed.items()):
        ext = _nginx_extension(relpath)
        told = extensions.get(ext) or BY_EXTENSION.get(f".{ext}" if ext else "", DEFAULT_TYPE)
        if told != content_type:
            exact["/" + relpath] = content_type
    return extensions, exact


def nginx_conf(root: str, times: CacheTimes, registry_url: str, sniffed: dict[str, str]) -> str:
    """The configuration text for the tree at ``root`` (an absolute path)."""
    extensions, exact = sniffed_types(sniffed)
    types = {ext.lstrip("."): content_type for ext, content_type in BY_EXTENSION.items()}
    types.update(extensions)
    type_lines = "".join(
        f"    {_quote(t)} {_quote(ext)};\n" for ext, t in sorted(types.items(), key=lambda i: i[0])
    )
    exact_locations = "".join(
        f"      location = {_quote(path)} {{\n"
        f"        types {{ }}\n        default_type {_quote(content_type)};\n      }}\n"
        for path, content_type in exact.items()
    )
    upstream = registry_address(registry_url)
    query_routes = ""
    for route, seconds in (("search", times.search), ("categories", times.categories)):
        query_routes += (
            f"    # /{route} with a query is answered by the registry.\n"
            f"    location = /{route} {{\n"
            f"      error_page 418 = @registry;\n"
            f'      if ($args != "") {{ return 418; }}\n'
            f"{_headers(seconds, '      ')}"
            f"      try_files /{route}/index.json =404;\n"
            f"    }}\n"
        )
    return f"""\
# nginx serving the static tree written by `package-registry build --format static`,
# with the registry's content types, Cache-Control and CORS headers; /search and
# /categories with a query are forwarded to the registry at {upstream}.
# Adjust `listen` (and, to run unprivileged, pid, error_log and the temp paths), then:
#   nginx -c {root}/nginx.conf
worker_processes auto;
events {{ worker_connections 1024; }}
http {{
  types {{
{type_lines}  }}
  default_type {_quote(DEFAULT_TYPE)};
  sendfile on;
  tcp_nopush on;
  etag off;
  gzip off;
  server_tokens off;
  server {{
    listen 8080;
    root {_quote(root)};
    # Only the registry's routes: the build's own files are not served.
    location / {{ return 404; }}
    location = / {{
{_headers(times.index, "      ")}      try_files /index.json =404;
    }}
    location = /index.json {{
{_headers(times.index, "      ")}    }}
    location = /favicon.ico {{
{_headers(times.catch_all, "      ")}    }}
    location = /openapi.json {{
{_headers(times.catch_all, "      ")}    }}
{query_routes}    location @registry {{
      proxy_pass {upstream};
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }}
    location /package/ {{
{_headers(times.catch_all, "      ")}      # /package/{{name}}/{{version}}/: the package document.
      location ~ /$ {{
{_headers(times.index, "        ")}        default_type application/json;
        try_files ${{uri}}index.json =404;
      }}
{exact_locations}    }}
    location /epr/ {{
{_headers(times.catch_all, "      ")}    }}
  }}
}}
"""
