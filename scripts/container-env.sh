#!/usr/bin/env bash
# Prepare a machine without a container daemon to build and run this project's images with
# buildah and podman, then export the settings they need. Source it (it exports variables):
#
#   . scripts/container-env.sh
#
# Why each step exists:
# - buildah/podman/runc come from Debian's packages (installed when missing; needs root).
# - CI machines and sandboxes have no systemd and may refuse overlay mounts: the cgroupfs
#   manager and the runc runtime work everywhere, and an empty default_ulimits avoids
#   raising limits a sandbox forbids. Images are stored with the overlay driver when this
#   machine can mount overlayfs (a probe mount tells), else with vfs, which copies every
#   layer in full (several times slower). Each driver gets its own store, so a store other
#   tools made with another driver is left alone.
# - No image registry may be reachable, so the Debian base the Dockerfile names
#   (`BASE=localhost/debian:bookworm-slim`) is made locally with debootstrap from Debian's
#   own packages, once per machine (about a minute), and trimmed as Debian's official slim
#   images are (no documentation, manual pages or translations, now or in later installs).
#   With a registry, use `BASE=debian:bookworm-slim` instead and skip this script.
# - Inside a build, pip trusts only the image's certificate authorities; behind a
#   TLS-inspecting proxy, pass the host's bundle as the optional `cacert` build secret
#   (`make image` does).
#
# Exports CONTAINER_BASE (the base image to build from) for the Makefile.

_cenv_fail() {
	echo "container-env: $*" >&2
	return 1
}

_cenv_main() {
	local missing=() tool
	for tool in buildah podman runc debootstrap; do
		command -v "$tool" >/dev/null || missing+=("$tool")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		echo "container-env: installing ${missing[*]} from Debian" >&2
		{ apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
			"${missing[@]}" ca-certificates uidmap iptables netavark aardvark-dns; } \
			>/tmp/container-env-apt.log 2>&1 ||
			_cenv_fail "apt-get install failed, see /tmp/container-env-apt.log" || return 1
	fi

	export CONTAINERS_CONF=${CONTAINERS_CONF:-/tmp/package-registry-containers.conf}
	cat >"$CONTAINERS_CONF" <<-'EOF'
		[containers]
		default_ulimits = []
		[engine]
		runtime = "runc"
		cgroup_manager = "cgroupfs"
		events_logger = "file"
	EOF
	local driver=vfs probe
	probe=$(mktemp -d /tmp/package-registry-overlay.XXXXXX)
	mkdir "$probe/lower" "$probe/upper" "$probe/work" "$probe/merged"
	if mount -t overlay overlay -o "lowerdir=$probe/lower,upperdir=$probe/upper,workdir=$probe/work" \
		"$probe/merged" 2>/dev/null; then
		umount "$probe/merged"
		driver=overlay
	fi
	rm -rf "$probe"
	export STORAGE_DRIVER=$driver BUILDAH_ISOLATION=chroot
	export CONTAINERS_STORAGE_CONF=${CONTAINERS_STORAGE_CONF:-/tmp/package-registry-storage.conf}
	printf '[storage]\ndriver = "%s"\nrunroot = "/run/containers/package-registry-%s"\ngraphroot = "/var/lib/containers/package-registry-%s"\n' \
		"$driver" "$driver" "$driver" >"$CONTAINERS_STORAGE_CONF"

	export CONTAINER_BASE=localhost/debian:bookworm-slim
	podman image exists "$CONTAINER_BASE" 2>/dev/null && return 0
	echo "container-env: making $CONTAINER_BASE with debootstrap (once per $driver store)" >&2
	local root
	root=$(mktemp -d /tmp/package-registry-rootfs.XXXXXX)
	debootstrap --variant=minbase bookworm "$root" >/tmp/container-env-debootstrap.log 2>&1 || {
		rm -rf "$root"
		_cenv_fail "debootstrap failed, see /tmp/container-env-debootstrap.log"
		return 1
	}
	# As Debian's slim images: dpkg leaves these out of every later install too.
	cat >"$root/etc/dpkg/dpkg.cfg.d/slim" <<-'EOF'
		path-exclude /usr/share/doc/*
		path-include /usr/share/doc/*/copyright
		path-exclude /usr/share/man/*
		path-exclude /usr/share/info/*
		path-exclude /usr/share/groff/*
		path-exclude /usr/share/lintian/*
		path-exclude /usr/share/locale/*
		path-include /usr/share/locale/locale.alias
	EOF
	find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
	find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
	find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
	rm -rf "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/groff/* \
		"$root"/usr/share/lintian/* "$root"/var/cache/apt/*.bin \
		"$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
	chmod 0755 "$root" # mktemp's 0700 would make / unreadable to the image's non-root user
	tar -C "$root" -c . | podman import --quiet - "$CONTAINER_BASE" >/dev/null
	local status=$?
	rm -rf "$root"
	[ $status -eq 0 ] || _cenv_fail "podman import failed"
}

_cenv_main
_cenv_status=$?
unset -f _cenv_main _cenv_fail
# shellcheck disable=SC2317  # `exit` only when executed rather than sourced
return $_cenv_status 2>/dev/null || exit $_cenv_status
