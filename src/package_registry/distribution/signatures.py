"""Checking detached, armored OpenPGP signatures with GnuPG's ``gpgv``.

``gpgv`` is GnuPG's verify-only tool: it trusts exactly the keys in the keyring it is
given and nothing in the user's own, which is what checking downloads against one
publisher's key needs. The armored key is converted once per run into a keyring in a
private temporary folder (``gpg --dearmor``). No OpenPGP implementation is written here.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from importlib.resources import files
from pathlib import Path

#: Elastic's signing key (https://artifacts.elastic.co/GPG-KEY-elasticsearch,
#: fingerprint 4609 5ACC 8548 582C 1A26 99A9 D27D 666C D88E 42B4).
ELASTIC_KEY = files("package_registry.distribution").joinpath("GPG-KEY-elasticsearch")


class SignatureError(Exception):
    """A signature that does not verify, or no way to verify it."""


class Verifier:
    """Verifies files against one armored public key; use as a context manager."""

    def __init__(self, armored_key: bytes) -> None:
        gpg, gpgv = shutil.which("gpg"), shutil.which("gpgv")
        if gpg is None or gpgv is None:
            raise SignatureError("gpg and gpgv (GnuPG) are needed to verify signatures")
        self._gpgv = gpgv
        self._folder = tempfile.TemporaryDirectory(prefix="package-registry-keys-")
        self._keyring = Path(self._folder.name) / "keyring.gpg"
        done = subprocess.run(
            [gpg, "--batch", "--dearmor", "--output", str(self._keyring)],
            input=armored_key,
            capture_output=True,
            check=False,
        )
        if done.returncode != 0 or not self._keyring.exists():
            self.close()
            raise SignatureError(f"failed to initialize public key: {_said(done.stderr)}")

    def verify(self, signed: Path, signature: Path) -> None:
        """Return if ``signature`` is a good signature of ``signed`` by the key."""
        if not signed.exists() or not signature.exists():
            raise FileNotFoundError(signed if not signed.exists() else signature)
        done = subprocess.run(
            [self._gpgv, "--keyring", str(self._keyring), str(signature), str(signed)],
            capture_output=True,
            check=False,
        )
        if done.returncode != 0:
            raise SignatureError(_said(done.stderr))

    def close(self) -> None:
        self._folder.cleanup()

    def __enter__(self) -> Verifier:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _said(stderr: bytes) -> str:
    """gpg's complaint in one line."""
    lines = [" ".join(line.split()) for line in stderr.decode(errors="replace").splitlines()]
    return "; ".join(line for line in lines if line) or "unknown error"
