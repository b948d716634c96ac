"""The operator's signing key, for anchoring and relaying. Users' keys never come here."""

from __future__ import annotations

import functools
import json

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from eth_account import Account
from eth_account.signers.local import LocalAccount


@functools.cache
def operator_account() -> LocalAccount:
    """anvil's development key on the embedded chain, else the decrypted keystore."""
    if settings.OPERATOR_KEY is not None:
        account: LocalAccount = Account.from_key(settings.OPERATOR_KEY)
        return account
    path = settings.OPERATOR_KEYSTORE
    password = settings.OPERATOR_KEYSTORE_PASSWORD
    if path is None or password is None:
        raise ImproperlyConfigured("OPERATOR_KEYSTORE and OPERATOR_KEYSTORE_PASSWORD must be set")
    try:
        keystore = json.loads(path.read_text())
        key = Account.decrypt(keystore, password)
    except (OSError, ValueError, KeyError) as exc:
        # eth-account raises ValueError for a wrong password ("MAC mismatch").
        raise ImproperlyConfigured(
            f"OPERATOR_KEYSTORE={path} cannot be decrypted with OPERATOR_KEYSTORE_PASSWORD: {exc}"
        ) from exc
    account = Account.from_key(key)
    return account
