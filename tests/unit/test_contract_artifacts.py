"""The committed contract artifacts match the Solidity sources."""

from __future__ import annotations

from ledger import artifacts, build


def test_artifacts_were_rebuilt_after_the_last_source_change():
    committed = build.DIGEST_FILE.read_text().strip()
    assert committed == build.sources_digest(), (
        "contracts/*.sol (or the compiler settings) changed but contracts/build/ was not rebuilt: run `make contracts`"
    )


def test_every_deployed_contract_has_an_artifact_with_code():
    for name in artifacts.DEPLOYED_CONTRACTS:
        artifact = artifacts.load(name)
        assert artifact.abi
        assert len(artifact.bytecode) > 2
        assert len(artifact.deployed_bytecode) > 2


def test_the_compiler_settings_pin_the_evm_version():
    assert build.COMPILER_SETTINGS["evmVersion"] == "cancun"
