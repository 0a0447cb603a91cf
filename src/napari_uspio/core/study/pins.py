"""Reader PINs: chosen at first sign-in, kept only as a salted scrypt hash.

A PIN keeps one reader from signing in as another at a shared workstation (a
typo in the reader id, a colleague's session); it is not a defence against
someone who can copy the study folder. The coordinator resets a forgotten PIN
(``napari-uspio study reset-pin``, audited); the reader chooses a new one at
their next sign-in.

Example::

    encoded = hash_pin("4711")
    pin_matches("4711", encoded)   # True
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from .manifest import load_study
from .records import StudyError

__all__ = ["MIN_PIN_LENGTH", "check_new_pin", "hash_pin", "pin_matches", "reset_pin"]

#: The shortest PIN a reader may choose.
MIN_PIN_LENGTH = 4
#: scrypt cost (n, r, p): about 50 ms and 16 MiB per hash, as OWASP suggests for scrypt.
_N, _R, _P = 2**14, 8, 1


def check_new_pin(pin: str) -> str:
    """``pin`` if it can be chosen, else a :class:`StudyError` saying what a PIN needs."""
    if len(pin) < MIN_PIN_LENGTH or pin != pin.strip():
        raise StudyError(
            f"choose a PIN of at least {MIN_PIN_LENGTH} characters, without leading "
            "or trailing spaces"
        )
    return pin


def _scrypt(pin: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(pin.encode(), salt=salt, n=n, r=r, p=p, maxmem=64 << 20, dklen=32)


def hash_pin(pin: str) -> str:
    """The stored form of a new PIN: ``scrypt$n$r$p$salt$hash`` (hex), salted at random."""
    salt = secrets.token_bytes(16)
    digest = _scrypt(check_new_pin(pin), salt, _N, _R, _P)
    return f"scrypt${_N}${_R}${_P}${salt.hex()}${digest.hex()}"


def pin_matches(pin: str, encoded: str) -> bool:
    """Whether ``pin`` is the PIN whose stored form is ``encoded`` (constant-time compare)."""
    scheme, n, r, p, salt, digest = encoded.split("$")
    if scheme != "scrypt":
        raise StudyError(f"unknown PIN hash scheme {scheme!r}; update napari-uspio")
    return hmac.compare_digest(
        _scrypt(pin, bytes.fromhex(salt), int(n), int(r), int(p)), bytes.fromhex(digest)
    )


def reset_pin(study_dir, reader: str) -> None:
    """Clear a reader's PIN, audited as the coordinator's; they choose a new one at sign-in."""
    study = load_study(study_dir)
    study.reader(reader)  # refuses an unknown id, naming the known ones
    with study.open_store() as store:
        store.set_pin_hash(reader, None, by="coordinator")
