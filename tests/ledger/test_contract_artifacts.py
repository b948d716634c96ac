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


def test_it_recognises_the_build_whatever_its_immutables_hold():
    manager = artifacts.load("LicenseManager")
    assert manager.immutable_ranges, "LicenseManager keeps its registry address in an immutable"
    code = bytearray.fromhex(manager.deployed_bytecode.removeprefix("0x"))
    assert manager.runs_this_build(bytes(code))
    for start, length in manager.immutable_ranges:
        code[start : start + length] = b"\x11" * length
    assert manager.runs_this_build(bytes(code))
    # Any other byte changed is other code.
    code[0] ^= 0xFF
    assert not manager.runs_this_build(bytes(code))
    assert not manager.runs_this_build(b"")


def test_it_compares_a_contract_without_immutables_byte_for_byte():
    registry = artifacts.load("PackageRegistry")
    assert registry.immutable_ranges == ()
    code = bytes.fromhex(registry.deployed_bytecode.removeprefix("0x"))
    assert registry.runs_this_build(code)
    assert not registry.runs_this_build(code + b"\x00")
