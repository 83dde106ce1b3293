"""Write a large synthetic package path for benchmarks.

Usage::

    python bench/make_corpus.py OUT_DIR [--packages 160] [--versions 20000] [--seed 1]
                                [--zip-fraction 0.1] [--sig-stubs] [--force] [--quiet]

``OUT_DIR`` becomes a package path (``<name>/<version>/manifest.yml`` folders, plus
``<name>-<version>.zip`` files directly in ``OUT_DIR`` for the ``--zip-fraction`` share)
holding exactly ``--versions`` package versions spread over ``--packages`` names. The
same arguments always give the same packages.

What varies, so that filters and sorting have work to do:

* package types: mostly ``integration`` (one data stream each, with fields, an agent
  stream template and, for some logs streams, a default ingest pipeline), some ``input``
  and ``content`` packages;
* versions: a random number per name, increasing semver mixing ``0.x`` and ``1.x``-``9.x``,
  about 5% prereleases (``-beta1``, ``-rc.1``, ``-next`` ...);
* ``format_version`` from ``1.0.0`` to ``3.3.x`` (``3.4.0`` for content packages and for
  integrations that declare ``discovery``), growing with the version; ``release:
  experimental`` / ``beta`` on some packages whose format still has that field (< 2.3.0);
* ``conditions.kibana.version`` (``^7.14.0``, ``^8.0.0 || ^9.0.0``, ``>=8.5.0``,
  ``~8.12.0``, ``^8.10.0, <8.16.0`` ...), ``conditions.agent.version`` on some,
  ``conditions.elastic.subscription`` and, on some, ``capabilities``;
* categories (with subcategories) from the registry's built-in table, also on policy
  templates; ``discovery`` fields and datasets on some packages.

Every package satisfies the reference's load-time validation (dataset names without
``-``, required ``data_stream.*`` / ``@timestamp`` fields, ``docs/README.md``, existing
icon files, valid constraints and releases, no ``-`` in directory names).

``--sig-stubs`` writes a placeholder ``.sig`` beside every package (``<name>/<version>.sig``
or ``<zip>.sig``): not a real signature, only enough for a registry that insists on the
file being there. ``OUT_DIR`` must be empty or missing; ``--force`` first deletes a
previous corpus (only a folder holding this script's ``corpus.json``).

The generator itself needs a few seconds of CPU for 20,000 versions (about 4 s into a
tmpfs); on a disk, creating the ~150,000 small files dominates and depends on the file
system. Progress is shown with ``rich`` when it is installed, else as plain lines.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import time
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

# --------------------------------------------------------------------------- vocabulary

VENDORS = (
    "acme", "apex", "aurora", "beacon", "cobalt", "cirrus", "delta", "ember", "falcon",
    "flux", "granite", "harbor", "helix", "ion", "juniper", "kepler", "lumen", "magma",
    "meridian", "nimbus", "nova", "onyx", "orbit", "pulsar", "quartz", "radial", "sable",
    "sierra", "solace", "summit", "tandem", "tesla", "titan", "umbra", "vector", "vertex",
    "willow", "xenon", "yonder", "zephyr",
)  # fmt: skip
PRODUCTS = (
    "firewall", "proxy", "gateway", "cache", "queue", "broker", "database", "search",
    "storage", "identity", "vpn", "dns", "mail", "cdn", "waf", "scheduler", "registry",
    "ledger", "metrics", "tracing", "audit", "endpoint", "router", "switch", "balancer",
    "vault", "pipeline", "crm", "ticketing", "backup",
)  # fmt: skip

#: Built-in categories (the reference's categories/categories.yml), parents and
#: subcategories alike.
CATEGORIES = (
    "aws", "azure", "cloud", "config_management", "containers", "crm", "custom",
    "custom_logs", "datastore", "elastic_stack", "elasticsearch_sdk", "enterprise_search",
    "app_search", "connector", "connector_client", "connector_package", "content_source",
    "crawler", "language_client", "native_search", "sdk_search", "workplace_search",
    "google_cloud", "infrastructure", "languages", "network", "observability",
    "application_observability", "analytics_engine", "big_data", "java_observability",
    "kubernetes", "load_balancer", "message_queue", "monitoring", "notification",
    "process_manager", "stream_processing", "virtualization", "web", "websphere",
    "opentelemetry", "os_system", "productivity", "security", "advanced_analytics_ueba",
    "asset_inventory", "auditd", "authentication", "cdn_security", "cloudsecurity_cdr",
    "credential_management", "database_security", "dns_security", "edr_xdr",
    "email_security", "firewall_security", "iam", "ids_ips", "misconfiguration_workflow",
    "network_security", "productivity_security", "proxy_security", "siem", "threat_intel",
    "vpn_security", "vulnerability_management", "vulnerability_workflow",
    "web_application_firewall", "support", "ticketing", "version_control",
)  # fmt: skip

#: Ordered oldest to newest; a package's later versions use later formats.
FORMATS = (
    "1.0.0", "1.0.0", "2.0.0", "2.3.0", "2.7.0", "2.10.0", "2.12.0", "3.0.0", "3.0.2",
    "3.1.0", "3.1.4", "3.2.0", "3.2.3", "3.3.0", "3.3.1", "3.3.2",
)  # fmt: skip
DISCOVERY_FORMAT = "3.4.0"

#: Ordered oldest to newest Kibana constraints.
KIBANA = (
    "^7.14.0", "^7.16.0", ">=7.17.0", "^7.17.0 || ^8.0.0", "^8.0.0", ">=8.5.0", "^8.8.0",
    "^8.10.0, <8.16.0", "~8.12.0", "^8.12.0 || ^9.0.0", "^8.13.0", "^8.0.0 || ^9.0.0",
    "^8.15.0 || ^9.0.0", ">=8.17.0 <9.1.0", "8.x || 9.x", "^9.0.0", "^9.1.0",
)  # fmt: skip
AGENT = ("^8.10.0", ">=8.12.0", "^8.13.0 || ^9.0.0", "~8.15.0", "^9.0.0")
SUBSCRIPTIONS = ("basic",) * 8 + ("gold", "platinum", "enterprise")
CAPABILITIES = (
    "apm",
    "enterprise_search",
    "observability",
    "security",
    "serverless_search",
    "uptime",
)
PRERELEASES = ("beta1", "beta2", "rc.1", "rc.2", "next", "preview.1", "SNAPSHOT")

LOG_INPUTS = ("logfile", "filestream", "httpjson", "cel", "tcp", "udp", "aws-s3", "gcs", "syslog")
METRIC_INPUTS = ("http/metrics", "prometheus/metrics", "sql/metrics", "jolokia/metrics")
DATA_STREAMS = {
    "logs": ("log", "access", "audit", "events", "alerts"),
    "metrics": ("metrics", "status", "node", "stats"),
}
DISCOVERY_FIELDS = (
    "url.path",
    "http.response.status_code",
    "source.ip",
    "user.name",
    "process.pid",
    "host.name",
)

# --------------------------------------------------------------------------- file templates

ICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="32" height="32" viewBox="0 0 32 32">'
    '<rect x="2" y="2" width="28" height="28" rx="6" fill="#%s"/></svg>\n'
)
README = (
    "# {title}\n\nThe {title} package ({type}) collects data from {vendor} {product}.\n\n"
    "## Compatibility\n\nSee the Kibana and Agent conditions in the manifest.\n"
)
CHANGELOG = (
    '- version: "{version}"\n  changes:\n    - description: Release {version}.\n'
    "      type: enhancement\n      link: https://example.com/{name}/pull/{pr}\n"
)
BASE_FIELDS = (
    "- name: data_stream.type\n  type: constant_keyword\n  description: Data stream type.\n"
    "- name: data_stream.dataset\n  type: constant_keyword\n  description: Data stream dataset.\n"
    "- name: data_stream.namespace\n  type: constant_keyword\n"
    "  description: Data stream namespace.\n"
    "- name: '@timestamp'\n  type: date\n  description: Event timestamp.\n"
)
NESTED_BASE_FIELDS = (
    "- name: data_stream\n  type: group\n  fields:\n"
    "    - name: type\n      type: constant_keyword\n"
    "    - name: dataset\n      type: constant_keyword\n"
    "    - name: namespace\n      type: constant_keyword\n"
    "- name: '@timestamp'\n  type: date\n"
)
FIELDS = (
    "- name: {name}.{ds}\n  type: group\n  fields:\n"
    "    - name: id\n      type: keyword\n      description: Identifier.\n"
    "    - name: value\n      type: long\n      description: Measured value.\n"
)
STREAM_HBS = "{{#each paths as |path|}}\n- {{path}}\n{{/each}}\nperiod: {{period}}\n"
INPUT_HBS = "paths:\n{{#each paths as |path|}}\n  - {{path}}\n{{/each}}\n"
PIPELINE = (
    "description: Default pipeline.\nprocessors:\n  - set:\n      field: event.ingested\n"
    "      value: '{{_ingest.timestamp}}'\n"
)
DASHBOARD = (
    '{{"attributes": {{"title": "[{title}] Overview", "panelsJSON": "[]", '
    '"optionsJSON": "{{}}", "timeRestore": false, "version": 1}}, '
    '"id": "{name}-overview", "references": [], "type": "dashboard", '
    '"coreMigrationVersion": "8.8.0"}}\n'
)
DS_MANIFEST = (
    "title: {title} {ds}\ntype: {type}\n{extra}streams:\n  - input: {input}\n"
    "    title: {title} {ds}\n    description: Collect {ds} data from {title}.\n"
    "    template_path: stream.yml.hbs\n    vars:\n"
    "      - name: paths\n        type: text\n        title: Paths\n        multi: true\n"
    "        required: true\n        show_user: true\n        default:\n"
    "          - /var/log/{name}/*.log\n"
    "      - name: period\n        type: text\n        title: Period\n        multi: false\n"
    "        required: false\n        show_user: false\n        default: 10s\n"
)
SIG_STUB = (
    "-----BEGIN PGP SIGNATURE-----\n\n"
    "U3ludGhldGljIGJlbmNobWFyayBzaWduYXR1cmUgc3R1Yjsgbm90IGEgcmVhbCBzaWduYXR1cmUu\n"
    "-----END PGP SIGNATURE-----\n"
)

# --------------------------------------------------------------------------- model


@dataclass
class Spec:
    """What is constant for one package name."""

    name: str
    vendor: str
    product: str
    type: str
    title: str
    categories: list[str]
    ds: str
    ds_type: str
    input: str
    owner: str
    color: str
    format_start: int
    kibana_start: int
    agent: bool
    discovery: bool
    release: str
    templates: int
    pipeline: bool
    nested_fields: bool
    versions: list[str] = field(default_factory=list)


@dataclass
class Summary:
    out_dir: str
    packages: int = 0
    versions: int = 0
    folders: int = 0
    zips: int = 0
    prereleases: int = 0
    types: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, object]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def split_counts(total: int, parts: int, rng: random.Random) -> list[int]:
    """``parts`` positive integers summing to ``total``, skewed (a few large, many small)."""
    if parts < 1 or total < parts:
        raise ValueError(f"cannot spread {total} versions over {parts} packages")
    weights = [rng.lognormvariate(0.0, 0.9) for _ in range(parts)]
    scale = (total - parts) / sum(weights)
    counts = [1 + int(w * scale) for w in weights]
    order = sorted(range(parts), key=lambda i: -weights[i])
    missing = total - sum(counts)
    for i in range(missing):
        counts[order[i % parts]] += 1
    return counts


def version_series(count: int, rng: random.Random) -> list[str]:
    """``count`` distinct, increasing semver strings; about 5% are prereleases."""
    major = 0 if rng.random() < 0.35 else rng.randint(1, 6)
    minor, patch = rng.randint(0, 3), 0
    # About 0.5 to 3 major bumps over the whole series, whatever its length.
    p_major = min(rng.uniform(0.5, 3.0) / count, 0.2)
    out = []
    for _ in range(count):
        version = f"{major}.{minor}.{patch}"
        if rng.random() < 0.05:
            version += "-" + rng.choice(PRERELEASES)
        out.append(version)
        roll = rng.random()
        if roll < p_major and major < 9:
            major, minor, patch = major + 1, 0, 0
        elif roll < 0.25:
            minor, patch = minor + 1, 0
        else:
            patch += 1
    return out


def make_specs(packages: int, versions: int, rng: random.Random) -> list[Spec]:
    combos = [f"{v}_{p}" for v in VENDORS for p in PRODUCTS]
    if packages > len(combos):
        raise ValueError(f"at most {len(combos)} package names are available")
    names = sorted(rng.sample(combos, packages))
    specs = []
    for name, count in zip(names, split_counts(versions, packages, rng), strict=True):
        vendor, product = name.split("_", 1)
        roll = rng.random()
        ptype = "integration" if roll < 0.85 else ("input" if roll < 0.95 else "content")
        ds_type = "logs" if rng.random() < 0.65 else "metrics"
        spec = Spec(
            name=name,
            vendor=vendor,
            product=product,
            type=ptype,
            title=f"{vendor.title()} {product.upper() if len(product) <= 3 else product.title()}",
            categories=rng.sample(CATEGORIES, rng.randint(1, 3)),
            ds=rng.choice(DATA_STREAMS[ds_type]),
            ds_type=ds_type,
            input=rng.choice(LOG_INPUTS if ds_type == "logs" else METRIC_INPUTS),
            owner=f"{vendor}-org/{product}_team",
            color=f"{rng.randrange(0x1000000):06X}",
            format_start=rng.randrange(len(FORMATS) - 3),
            kibana_start=rng.randrange(len(KIBANA) - 4),
            agent=rng.random() < 0.3,
            discovery=ptype == "content" or rng.random() < 0.1,
            release=rng.choice(("", "", "", "experimental", "beta")),
            templates=1 if rng.random() < 0.75 else 2,
            pipeline=ds_type == "logs" and rng.random() < 0.5,
            nested_fields=rng.random() < 0.3,
        )
        if ptype == "input":
            spec.input = rng.choice(LOG_INPUTS)
            spec.format_start = max(spec.format_start, FORMATS.index("3.0.0"))
        spec.versions = version_series(count, rng)
        specs.append(spec)
    return specs


# --------------------------------------------------------------------------- rendering


def pick(seq: tuple[str, ...], start: int, progress: float, rng: random.Random) -> str:
    """An element from ``seq[start:]`` that moves towards the end as ``progress`` grows."""
    span = len(seq) - start
    index = start + int(progress * span) + rng.randint(-1, 1)
    return seq[min(max(index, start), len(seq) - 1)]


def yaml_list(items: Iterable[str], indent: int) -> str:
    pad = " " * indent
    return "".join(f"{pad}- {item}\n" for item in items)


def render_manifest(spec: Spec, version: str, progress: float, rng: random.Random) -> str:
    if spec.type == "content" or (spec.discovery and progress > 0.5):
        fmt = DISCOVERY_FORMAT
        discovery = True
    else:
        fmt = pick(FORMATS, spec.format_start, progress, rng)
        discovery = False
    fmt_tuple = tuple(int(x) for x in fmt.split("."))
    out = [
        f"format_version: {fmt}\nname: {spec.name}\ntitle: {spec.title}\nversion: {version}\n"
        f"description: Collect logs and metrics from {spec.title} with Elastic Agent.\n"
        f"type: {spec.type}\n"
    ]
    if spec.release and fmt_tuple < (2, 3, 0):
        out.append(f"release: {spec.release}\n")
    out.append("categories:\n" + yaml_list(spec.categories, 2))
    if rng.random() < 0.97:
        kibana = pick(KIBANA, spec.kibana_start, progress, rng)
        cond = f'conditions:\n  kibana:\n    version: "{kibana}"\n'
        if spec.agent:
            cond += f'  agent:\n    version: "{rng.choice(AGENT)}"\n'
        cond += f"  elastic:\n    subscription: {rng.choice(SUBSCRIPTIONS)}\n"
        if fmt_tuple >= (2, 10, 0) and rng.random() < 0.1:
            caps = rng.sample(CAPABILITIES, rng.randint(1, 2))
            cond += "    capabilities:\n" + yaml_list(caps, 6)
        out.append(cond)
    if discovery:
        fields = rng.sample(DISCOVERY_FIELDS, rng.randint(1, 3))
        disc = "discovery:\n  fields:\n" + "".join(f"    - name: {f}\n" for f in fields)
        if spec.type == "content" or rng.random() < 0.5:
            disc += f"  datasets:\n    - name: {spec.vendor}.{spec.ds}\n"
        out.append(disc)
    out.append(
        f"icons:\n  - src: /img/icon.svg\n    title: {spec.title} logo\n    size: 32x32\n"
        "    type: image/svg+xml\n"
    )
    if spec.type == "integration":
        out.append("policy_templates:\n")
        for t in range(spec.templates):
            pt_name = spec.product if t == 0 else f"{spec.product}_cloud"
            pt = (
                f"  - name: {pt_name}\n    title: {spec.title} {'' if t == 0 else 'cloud '}data\n"
                f"    description: Collect {spec.ds} data from {spec.title}.\n"
                f"    data_streams:\n      - {spec.ds}\n"
            )
            if rng.random() < 0.3:
                pt += "    categories:\n" + yaml_list(rng.sample(CATEGORIES, 1), 6)
            pt += (
                f"    inputs:\n      - type: {spec.input}\n        title: Collect {spec.ds} data\n"
                f"        description: Collect {spec.ds} data with the {spec.input} input.\n"
            )
            out.append(pt)
    elif spec.type == "input":
        out.append(
            f"policy_templates:\n  - name: {spec.product}\n    type: logs\n"
            f"    title: {spec.title} input\n    description: Read {spec.title} data.\n"
            f"    input: {spec.input}\n    template_path: input.yml.hbs\n    vars:\n"
            "      - name: paths\n        type: text\n        title: Paths\n        multi: true\n"
            "        required: true\n        show_user: true\n        default:\n"
            f"          - /var/log/{spec.name}/*.log\n"
        )
    owner = f"owner:\n  github: {spec.owner}\n"
    if fmt_tuple >= (3, 0, 0):
        owner += "  type: " + rng.choice(("elastic", "partner", "community")) + "\n"
    out.append(owner)
    return "".join(out)


def package_files(
    spec: Spec, version: str, index: int, rng: random.Random
) -> list[tuple[str, str]]:
    """``(relative path, text)`` of every file, directories implied, in lexical walk order."""
    progress = index / max(len(spec.versions) - 1, 1)
    manifest = render_manifest(spec, version, progress, rng)
    files = [("changelog.yml", CHANGELOG.format(version=version, name=spec.name, pr=index + 1))]
    if spec.type == "integration":
        ds = f"data_stream/{spec.ds}"
        extra = ""
        if spec.pipeline and rng.random() < 0.5:
            extra = "elasticsearch:\n  index_template.settings:\n    index.refresh_interval: 5s\n"
        files.append((f"{ds}/agent/stream/stream.yml.hbs", STREAM_HBS))
        if spec.pipeline:
            files.append((f"{ds}/elasticsearch/ingest_pipeline/default.yml", PIPELINE))
        files.append(
            (
                f"{ds}/fields/base-fields.yml",
                NESTED_BASE_FIELDS if spec.nested_fields else BASE_FIELDS,
            )
        )
        files.append((f"{ds}/fields/fields.yml", FIELDS.format(name=spec.name, ds=spec.ds)))
        files.append(
            (
                f"{ds}/manifest.yml",
                DS_MANIFEST.format(
                    title=spec.title,
                    ds=spec.ds,
                    type=spec.ds_type,
                    extra=extra,
                    input=spec.input,
                    name=spec.name,
                ),
            )
        )
    elif spec.type == "input":
        files.insert(0, ("agent/input/input.yml.hbs", INPUT_HBS))
    readme = README.format(
        title=spec.title, type=spec.type, vendor=spec.vendor, product=spec.product
    )
    files.append(("docs/README.md", readme))
    files.append(("img/icon.svg", ICON % spec.color))
    if spec.type == "content":
        files.append(
            (
                f"kibana/dashboard/{spec.name}-overview.json",
                DASHBOARD.format(title=spec.title, name=spec.name),
            )
        )
    files.append(("manifest.yml", manifest))
    files.sort(key=lambda item: item[0].split("/"))
    return files


# --------------------------------------------------------------------------- writers


def write_folder(base: str, files: list[tuple[str, str]]) -> None:
    os.mkdir(base)
    made = {""}
    for rel, text in files:
        parent = rel.rpartition("/")[0]
        if parent not in made:
            parts = parent.split("/")
            for depth in range(1, len(parts) + 1):
                sub = "/".join(parts[:depth])
                if sub not in made:
                    os.mkdir(os.path.join(base, sub))
                    made.add(sub)
        with open(os.path.join(base, rel), "w", encoding="utf-8") as handle:
            handle.write(text)


def write_zip(path: str, top: str, files: list[tuple[str, str]]) -> None:
    date = (2024, 1, 1, 0, 0, 0)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        made: set[str] = set()

        def directory(name: str) -> None:
            if name not in made:
                made.add(name)
                info = zipfile.ZipInfo(name + "/", date_time=date)
                info.external_attr = (0o040755 << 16) | 0x10
                archive.writestr(info, b"")

        directory(top)
        for rel, text in files:
            parts = rel.split("/")
            for depth in range(1, len(parts)):
                directory(top + "/" + "/".join(parts[:depth]))
            info = zipfile.ZipInfo(f"{top}/{rel}", date_time=date)
            info.external_attr = 0o100644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, text)


# --------------------------------------------------------------------------- driver


def _progress(total: int, quiet: bool) -> tuple[Callable[[int], None], Callable[[], None]]:
    if quiet:
        return (lambda n: None), (lambda: None)
    try:
        from rich.progress import Progress
    except ImportError:
        step = max(total // 10, 1)
        state = {"done": 0}

        def advance(n: int) -> None:
            before = state["done"]
            state["done"] += n
            if state["done"] // step != before // step or state["done"] == total:
                print(f"  {state['done']}/{total} versions written", flush=True)

        return advance, (lambda: None)
    bar = Progress()
    bar.start()
    task = bar.add_task("writing packages", total=total)
    return (lambda n: bar.advance(task, n)), bar.stop


def generate(
    out_dir: str,
    packages: int = 160,
    versions: int = 20000,
    seed: int = 1,
    zip_fraction: float = 0.0,
    sig_stubs: bool = False,
    force: bool = False,
    quiet: bool = True,
) -> Summary:
    """Write the corpus into ``out_dir`` and return what was written."""
    if not 0.0 <= zip_fraction <= 1.0:
        raise ValueError("zip fraction must be between 0 and 1")
    marker = os.path.join(out_dir, "corpus.json")
    if os.path.isdir(out_dir) and os.listdir(out_dir):
        if not (force and os.path.isfile(marker)):
            raise FileExistsError(
                f"{out_dir} is not empty (use --force to replace a previous corpus)"
            )
        shutil.rmtree(out_dir)
    os.makedirs(out_dir, exist_ok=True)

    started = time.perf_counter()
    rng = random.Random(seed)
    specs = make_specs(packages, versions, rng)
    summary = Summary(out_dir=out_dir, packages=len(specs))
    advance, stop = _progress(versions, quiet)
    try:
        for spec in specs:
            folder_made = False
            for index, version in enumerate(spec.versions):
                files = package_files(spec, version, index, rng)
                as_zip = zip_fraction > 0 and rng.random() < zip_fraction
                if as_zip:
                    path = os.path.join(out_dir, f"{spec.name}-{version}.zip")
                    write_zip(path, f"{spec.name}-{version}", files)
                    summary.zips += 1
                else:
                    parent = os.path.join(out_dir, spec.name)
                    if not folder_made:
                        os.mkdir(parent)
                        folder_made = True
                    path = os.path.join(parent, version)
                    write_folder(path, files)
                    summary.folders += 1
                if sig_stubs:
                    with open(path + ".sig", "w", encoding="ascii") as handle:
                        handle.write(SIG_STUB)
                summary.versions += 1
                summary.prereleases += "-" in version
                summary.types[spec.type] = summary.types.get(spec.type, 0) + 1
            advance(len(spec.versions))
    finally:
        stop()
    summary.seconds = round(time.perf_counter() - started, 2)
    with open(marker, "w", encoding="utf-8") as handle:
        params = {
            "packages": packages,
            "versions": versions,
            "seed": seed,
            "zip_fraction": zip_fraction,
        }
        json.dump(
            {"generator": "bench/make_corpus.py", "params": params, **summary.as_dict()},
            handle,
            indent=2,
        )
        handle.write("\n")
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write a synthetic package path for benchmarks.")
    parser.add_argument("out_dir", help="package path to create (must be empty or missing)")
    parser.add_argument("--packages", type=int, default=160, help="number of package names")
    parser.add_argument(
        "--versions", type=int, default=20000, help="total number of package versions"
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed (same seed, same corpus)")
    parser.add_argument(
        "--zip-fraction", type=float, default=0.0, help="share of versions written as zips"
    )
    parser.add_argument(
        "--sig-stubs", action="store_true", help="write a placeholder .sig beside each package"
    )
    parser.add_argument(
        "--force", action="store_true", help="replace a corpus previously written here"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    args = parser.parse_args(argv)
    try:
        summary = generate(
            args.out_dir,
            packages=args.packages,
            versions=args.versions,
            seed=args.seed,
            zip_fraction=args.zip_fraction,
            sig_stubs=args.sig_stubs,
            force=args.force,
            quiet=args.quiet,
        )
    except (ValueError, FileExistsError) as err:
        parser.error(str(err))
    types = ", ".join(f"{n} {t}" for t, n in sorted(summary.types.items()))
    print(
        f"{summary.versions} versions of {summary.packages} packages ({types}; "
        f"{summary.folders} folders, {summary.zips} zips, {summary.prereleases} prereleases) "
        f"in {summary.out_dir} in {summary.seconds:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
