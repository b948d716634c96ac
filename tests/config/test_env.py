"""Typed environment readers fail loudly and say which variable is wrong."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from config import env
from ledger.offline.redact import redact_url


def test_booleans_accept_the_usual_spellings(monkeypatch):
    for text, expected in [("1", True), ("yes", True), ("ON", True), ("0", False), ("false", False), ("", False)]:
        monkeypatch.setenv("X_FLAG", text)
        assert env.env_bool("X_FLAG", default=not expected) is expected


def test_it_rejects_a_boolean_it_cannot_read(monkeypatch):
    monkeypatch.setenv("X_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="X_FLAG='maybe' is not a boolean"):
        env.env_bool("X_FLAG", False)


def test_it_rejects_integers_out_of_range_or_malformed(monkeypatch):
    monkeypatch.setenv("X_PORT", "seventy")
    with pytest.raises(ImproperlyConfigured, match="X_PORT='seventy' is not an integer"):
        env.env_int("X_PORT", 1)
    monkeypatch.setenv("X_PORT", "70000")
    with pytest.raises(ImproperlyConfigured, match="X_PORT=70000 is above the maximum 65535"):
        env.env_int("X_PORT", 1, maximum=65535)


def test_it_rejects_a_url_with_the_wrong_scheme_without_echoing_its_password(monkeypatch):
    monkeypatch.setenv("X_URI", "postgres://user:hunter2@db:5432/x")
    with pytest.raises(ImproperlyConfigured) as info:
        env.env_url("X_URI", ("mongodb", "mongodb+srv"))
    assert "X_URI" in str(info.value)
    assert "hunter2" not in str(info.value)
    assert "mongodb or mongodb+srv" in str(info.value)


def test_an_unset_url_means_the_embedded_default(monkeypatch):
    monkeypatch.delenv("X_URI", raising=False)
    assert env.env_url("X_URI", ("http",)) is None


def test_a_required_file_must_exist(monkeypatch, tmp_path):
    monkeypatch.setenv("X_FILE", str(tmp_path / "absent.json"))
    with pytest.raises(ImproperlyConfigured, match="does not name a readable file: because"):
        env.env_file("X_FILE", "because")
    monkeypatch.delenv("X_FILE")
    with pytest.raises(ImproperlyConfigured, match="X_FILE must be set: because"):
        env.env_file("X_FILE", "because")


def test_redact_url_hides_only_the_password():
    assert redact_url("mongodb://u:secret@h:1/db") == "mongodb://u:***@h:1/db"
    assert redact_url("http://127.0.0.1:8545") == "http://127.0.0.1:8545"


def test_the_embedded_development_keys_are_anvils_published_accounts():
    from eth_account import Account

    from config.embedded import ANVIL_DEV_KEYS

    Account.enable_unaudited_hdwallet_features()
    mnemonic = "test test test test test test test test test test test junk"
    for index, key in enumerate(ANVIL_DEV_KEYS):
        derived = Account.from_mnemonic(mnemonic, account_path=f"m/44'/60'/0'/0/{index}")
        assert derived.key.to_0x_hex() == key
