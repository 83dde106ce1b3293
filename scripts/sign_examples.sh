#!/usr/bin/env bash
# Rebuild the zipped example package and sign every example package.
#
# A throwaway OpenPGP key is generated in a temporary GNUPGHOME; only its public half is
# kept (src/package_registry/examples/KEYS.asc). Signatures are detached and ASCII-armored:
#   - zip packages:    <name>-<version>.zip  ->  <name>-<version>.zip.sig
#   - folder packages: <name>/<version>/     ->  <name>/<version>.sig, a signature of the
#     reproducible zip the registry serves for that folder (scripts/build_example_zip.py).
# Each run makes a new key, so all signatures and KEYS.asc change together.
#
# Usage: scripts/sign_examples.sh          (needs gpg and python3; PYTHON=... to override)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
examples="$repo/src/package_registry/examples"
builder="$repo/scripts/build_example_zip.py"
py=${PYTHON:-$repo/.venv/bin/python}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export GNUPGHOME="$work/gnupg"
mkdir -m 700 "$GNUPGHOME"

uid="Package Registry Examples (throwaway signing key) <examples@package-registry.invalid>"
gpg --batch --quiet --pinentry-mode loopback --passphrase '' \
    --quick-gen-key "$uid" rsa3072 sign 0
fpr=$(gpg --batch --with-colons --list-keys "$uid" | awk -F: '/^fpr:/ {print $10; exit}')

sign() {  # sign FILE SIGNATURE
    gpg --batch --yes --quiet --local-user "$fpr" --armor --detach-sign --output "$2" "$1"
    gpg --batch --quiet --verify "$2" "$1" 2>/dev/null
    echo "signed ${2#"$repo"/}"
}

# Zip packages: rebuild from source first so the signature matches the committed bytes.
"$py" "$builder" >/dev/null
for zip in "$examples"/*.zip; do
    [ -e "$zip" ] || continue
    sign "$zip" "$zip.sig"
done

# Folder packages: <name>/<version>/manifest.yml.
for manifest in "$examples"/*/*/manifest.yml; do
    dir=$(dirname "$manifest")
    version=$(basename "$dir")
    name=$(basename "$(dirname "$dir")")
    "$py" "$builder" "$dir" "$work/$name-$version.zip" >/dev/null
    sign "$work/$name-$version.zip" "$(dirname "$dir")/$version.sig"
done

gpg --batch --armor --export "$fpr" >"$examples/KEYS.asc"
echo "public key: ${examples#"$repo"/}/KEYS.asc ($fpr)"
