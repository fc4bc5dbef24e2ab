"""Passwords: hashing with Argon2id at OWASP's recommended parameters, and the rule every new
password follows (:func:`password_problem`): at least :data:`MIN_LENGTH` characters, and not one of
the common passwords the project ships (``app/data/common_passwords.txt``, no network)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# OWASP (2023+): Argon2id, m=19 MiB, t=2, p=1.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)

#: Verified against when the account does not exist, so timing does not reveal which emails exist.
_DUMMY_HASH = _hasher.hash("maillage-dummy-password")

MIN_LENGTH = 12
MAX_LENGTH = 200
COMMON_PASSWORDS = Path(__file__).resolve().parent.parent / "data" / "common_passwords.txt"


@cache
def common_passwords() -> frozenset[str]:
    """The shipped list, lower-case (lines starting with ``#`` are comments)."""
    with COMMON_PASSWORDS.open(encoding="utf-8") as handle:
        return frozenset(line.strip().lower() for line in handle if line.strip() and not line.startswith("#"))


def password_problem(password: str | None) -> str | None:
    """Why ``password`` may not be set, in French; None when it may. The one rule for every place a
    password is set (account creation, change, reset, the CLI)."""
    from flask_babel import gettext as _

    password = password or ""
    if len(password) < MIN_LENGTH:
        return _("Le mot de passe doit compter au moins %(n)d caractères.", n=MIN_LENGTH)
    if len(password) > MAX_LENGTH:
        return _("Le mot de passe doit compter au plus %(n)d caractères.", n=MAX_LENGTH)
    if password.strip().lower() in common_passwords():
        return _(
            "Ce mot de passe fait partie des mots de passe les plus courants : choisissez-en un autre "
            "(une phrase de plusieurs mots, par exemple)."
        )
    return None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
