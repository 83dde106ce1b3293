# syntax=docker/dockerfile:1
# The registry image: Debian's Python, the registry in a virtualenv, a non-root user.
#
#   docker build -t package-registry .
#   docker run -p 8080:8080 -v "$PWD/packages:/packages/package-registry:ro" package-registry
#
# BASE is any Debian bookworm image; where no image registry is reachable, make one locally
# (scripts/container-env.sh) and build with --build-arg BASE=localhost/debian:bookworm-slim.
# Behind a TLS-inspecting proxy, pass its certificate authorities as the optional build
# secret `cacert` (--secret id=cacert,src=/etc/ssl/certs/ca-certificates.crt); pip uses them.
ARG BASE=debian:bookworm-slim

FROM ${BASE} AS builder
RUN apt-get update -q \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      python3 python3-venv binutils \
 && rm -rf /var/lib/apt/lists/*
RUN python3 -m venv /opt/package-registry
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
# The profiling extra (py-spy) makes -httpprof work; GCS, S3 and APM clients are regular
# dependencies, imported only when their flag or variable is set.
RUN --mount=type=secret,id=cacert,required=false \
    if [ -f /run/secrets/cacert ]; then export PIP_CERT=/run/secrets/cacert; fi \
 && /opt/package-registry/bin/pip install --quiet --no-cache-dir --disable-pip-version-check \
      --no-compile '.[profiling]' \
 && /opt/package-registry/bin/pip uninstall --quiet --yes pip setuptools
# Smaller: no debug symbols in extension modules, no test suites shipped inside packages.
# Then byte-compile once, since the root file system may be read-only at run time.
RUN find /opt/package-registry -name '*.so' -exec strip --strip-unneeded {} + \
 && find /opt/package-registry -depth -type d -name tests -path '*/site-packages/*/tests' \
      -exec rm -rf {} + \
 && /opt/package-registry/bin/python -m compileall -q -j 0 /opt/package-registry >/dev/null

FROM ${BASE}
RUN apt-get update -q \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      python3 ca-certificates \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/apt /var/log/dpkg.log \
      /usr/share/doc /usr/share/man /usr/share/info \
 && groupadd --gid 10001 registry \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin registry \
 && mkdir -p /packages/package-registry \
 && install -d -o 10001 -g 10001 /var/cache/package-registry
COPY --from=builder /opt/package-registry /opt/package-registry
COPY deploy/config.docker.yml /package-registry/config.yml
WORKDIR /package-registry
ENV PATH=/opt/package-registry/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    EPR_ADDRESS=0.0.0.0:8080 \
    EPR_CATALOG_PATH=/var/cache/package-registry \
    EPR_PACKAGE_PATHS_ENABLE_WATCHER=true
# The watcher lets a mounted folder start empty and be filled later; distribution images,
# whose packages never change, turn it off.
USER 10001:10001
EXPOSE 8080
STOPSIGNAL SIGTERM
# Docker reports "healthy" after the first check, one interval after the start: 2 s keeps
# that close to the start-up time, for about 0.1 s of CPU per check (override with
# `docker run --health-interval=30s` where that matters more).
HEALTHCHECK --interval=2s --timeout=2s --start-period=30s --retries=3 \
  CMD ["package-registry", "-health-check"]
ENTRYPOINT ["package-registry"]
