"""Integration secrets at rest: Fernet under a key derived from the vault key, each token bound to its row."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

# HKDF's `info` separates this use of the vault key from the PII vault's: neither can open the other's data.
_PURPOSE = b"deskpilot integration secrets v1"


class SecretsUnreadable(Exception):
    """A sealed secret set that this key cannot open (another vault key, or a token moved between rows)."""


def derive_key(vault_key: bytes) -> bytes:
    """The Fernet key for integration secrets, from the PII vault's Fernet key."""
    material = base64.urlsafe_b64decode(vault_key)
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_PURPOSE).derive(material)
    return base64.urlsafe_b64encode(derived)


class SecretBox:
    """Seals a secret set for one integration and opens it again; the plain text never reaches storage."""

    def __init__(self, vault_key: bytes) -> None:
        self._fernet = Fernet(derive_key(vault_key))

    def seal(self, integration_id: str, secrets: Mapping[str, str]) -> str:
        # The id inside the ciphertext stops a token copied onto another integration's row from opening.
        plain = json.dumps({"integration": integration_id, "secrets": dict(secrets)}, separators=(",", ":"))
        return self._fernet.encrypt(plain.encode()).decode()

    def open(self, integration_id: str, token: str) -> dict[str, str]:
        try:
            sealed = json.loads(self._fernet.decrypt(token.encode()))
        except (InvalidToken, ValueError):
            raise SecretsUnreadable(
                f"the secrets of integration {integration_id} cannot be decrypted"
            ) from None
        if sealed.get("integration") != integration_id:
            raise SecretsUnreadable(f"the secrets stored with integration {integration_id} belong elsewhere")
        secrets: dict[str, str] = sealed["secrets"]
        return secrets
