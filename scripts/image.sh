#!/usr/bin/env bash
# Build the registry image, or build it and test it (`make image`, `make image-test`).
#
#   scripts/image.sh build    # IMAGE (default localhost/package-registry)
#   scripts/image.sh test     # build, then deploy/tests/ against the image; prints its size
#
# Uses docker when a docker daemon answers, otherwise buildah and podman without a daemon
# (installed and set up by scripts/container-env.sh, which also makes the Debian base image
# locally, as no image registry may be reachable). CONTAINER_ENGINE=docker|podman and
# BASE=<image> override the choices. The host's certificate authorities (CACERT, default the
# system bundle) are passed to the build as the optional `cacert` secret, for pip behind a
# TLS-inspecting proxy.
set -euo pipefail
cd "$(dirname "$0")/.."

export IMAGE=${IMAGE:-localhost/package-registry}
if [ -z "${CONTAINER_ENGINE:-}" ]; then
	if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
		CONTAINER_ENGINE=docker
	else
		CONTAINER_ENGINE=podman
	fi
fi
export CONTAINER_ENGINE
if [ "$CONTAINER_ENGINE" = podman ]; then
	# shellcheck source=scripts/container-env.sh
	. scripts/container-env.sh
	BASE=${BASE:-$CONTAINER_BASE}
fi
export BASE=${BASE:-debian:bookworm-slim}

cacert=${CACERT:-/etc/ssl/certs/ca-certificates.crt}
secret=()
[ -f "$cacert" ] && secret=(--secret "id=cacert,src=$cacert")

build() {
	local started=$SECONDS
	if [ "$CONTAINER_ENGINE" = docker ]; then
		DOCKER_BUILDKIT=1 docker build "${secret[@]}" --build-arg "BASE=$BASE" -t "$IMAGE" .
	else
		# --format docker keeps HEALTHCHECK, which the OCI image format has no field for.
		buildah bud --quiet --layers --format docker "${secret[@]}" --build-arg "BASE=$BASE" \
			-t "$IMAGE" .
	fi
	echo "image: built $IMAGE from $BASE in $((SECONDS - started)) s"
}

size() {
	local bytes
	bytes=$("$CONTAINER_ENGINE" image inspect --format '{{.Size}}' "$IMAGE")
	echo "image: $IMAGE is $((bytes / 1000000)) MB"
}

case "${1:-build}" in
build)
	build
	size
	;;
test)
	build
	.venv/bin/python -m pytest -q -s -p no:cacheprovider deploy/tests
	size
	;;
*)
	echo "usage: $0 build|test" >&2
	exit 2
	;;
esac
