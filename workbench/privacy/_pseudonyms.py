"""Keyed pseudonyms: the key and where it comes from, HMAC pseudonyms, and looking a customer up."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..data import InputError
from ._defaults import DEFAULTS

#: The shortest pseudonym key accepted, from the environment or a key file.
MIN_KEY_BYTES = 16


@dataclass(frozen=True)
class PseudonymKey:
    """A pseudonymisation key and where it came from; ``repr`` never shows the secret."""

    secret: bytes
    origin: str  # "env:NAME", "file", or "random"

    @property
    def persistent(self) -> bool:
        return self.origin != "random"

    def __repr__(self) -> str:
        return f"PseudonymKey(origin={self.origin!r})"


def resolve_key(settings: dict) -> PseudonymKey:
    """Read the pseudonym key from ``settings['key_env']`` or ``settings['key_file']``.

    With neither, a random key is made for this run: pseudonyms then differ between runs and no
    one can link them back to customers afterwards.

    Parameters
    ----------
    settings : dict
        The ``privacy`` config section (``key_env``, ``key_file``).

    Returns
    -------
    PseudonymKey
    """
    env_name = settings.get("key_env") or DEFAULTS["key_env"]
    if os.environ.get(env_name):
        secret = os.environ[env_name].encode()
        if len(secret) < MIN_KEY_BYTES:
            raise InputError(
                f"Config error: the pseudonym key in the environment variable {env_name} is shorter "
                f"than {MIN_KEY_BYTES} bytes, too short to keep pseudonyms from being reversed. Set it "
                "to a long random value, e.g. the output of: python -c \"import secrets; "
                "print(secrets.token_hex(32))\"."
            )
        return PseudonymKey(secret, f"env:{env_name}")
    key_file = settings.get("key_file")
    if key_file:
        path = Path(key_file).expanduser()
        if not path.exists():
            raise InputError(f"Config error: privacy.key_file {path} does not exist.")
        secret = path.read_bytes().strip()
        if len(secret) < MIN_KEY_BYTES:
            raise InputError(f"Config error: the key in {path} is shorter than {MIN_KEY_BYTES} bytes.")
        return PseudonymKey(secret, "file")
    return PseudonymKey(secrets.token_bytes(32), "random")


def pseudonymise(ids: pd.Series, key: PseudonymKey, length: int = 16) -> pd.Series:
    """HMAC-SHA256 of each id under ``key``, hex, truncated to ``length`` characters, prefixed ``p``.

    Parameters
    ----------
    ids : Series
        Raw customer ids (converted with ``str``).
    key : PseudonymKey
    length : int, default 16
        Hex characters kept after the ``p``.

    Returns
    -------
    Series
        The pseudonyms, with the index and name of ``ids``.
    """
    base = hmac.new(key.secret, digestmod=hashlib.sha256)  # keyed once; each id's HMAC is a copy of it

    def one(value) -> str:
        mac = base.copy()
        mac.update(str(value).encode())
        return "p" + mac.hexdigest()[:length]

    values = [one(v) for v in ids]
    return pd.Series(values, index=ids.index, name=ids.name)


def pseudonym_for(raw_ids, settings: dict | None = None) -> list[str]:
    """The pseudonyms of raw customer ids under the configured (persistent) key.

    This is how a customer is looked up in a run (e.g. by ``workbench explain``): the raw id is
    pseudonymised again with the same key, never stored next to its pseudonym.

    Parameters
    ----------
    raw_ids : str or iterable of str
    settings : dict, optional
        The ``privacy`` config section (default :data:`DEFAULTS`).

    Returns
    -------
    list of str

    Raises
    ------
    InputError
        When no key is configured: a run without a key used a random key that no longer exists.
    """
    key = resolve_key(settings or DEFAULTS)
    if not key.persistent:
        raise InputError(
            "No pseudonym key is configured (environment variable "
            f"{(settings or DEFAULTS).get('key_env') or DEFAULTS['key_env']} or privacy.key_file): "
            "runs without a key used a random key that was never stored, so their pseudonyms "
            "cannot be linked to customers."
        )
    ids = pd.Series([str(v) for v in (raw_ids if not isinstance(raw_ids, str) else [raw_ids])])
    return pseudonymise(ids, key).tolist()
