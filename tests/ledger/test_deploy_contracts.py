"""Deploying the marketplace contracts is idempotent and recorded."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from ledger import artifacts
from ledger.exceptions import LedgerError
from ledger.models import ContractDeployment
from ledger.services import contracts_deploy


def _registry(outcomes):
    """The PackageRegistry's outcome among all contracts deployed."""
    (outcome,) = [o for o in outcomes if o.deployment.name == "PackageRegistry"]
    return outcome


@pytest.mark.django_db
def test_it_deploys_once_and_records_the_address(chain, operator, snapshot):
    first = contracts_deploy(client=chain, deployer=operator)
    second = contracts_deploy(client=chain, deployer=operator)

    assert [o.created for o in first] == [True] * len(artifacts.DEPLOYED_CONTRACTS)
    assert [o.created for o in second] == [False] * len(artifacts.DEPLOYED_CONTRACTS)
    assert [o.deployment.address for o in first] == [o.deployment.address for o in second]
    record = ContractDeployment.objects.get(name="PackageRegistry")
    assert chain.code_at(record.address)
    assert record.code_hash == artifacts.load("PackageRegistry").code_hash
    assert record.deployer == operator.address


@pytest.mark.django_db
def test_it_deploys_again_when_the_code_is_gone(chain, operator, snapshot):
    first = _registry(contracts_deploy(client=chain, deployer=operator))
    chain.w3.provider.make_request("anvil_setCode", [first.deployment.address, "0x"])

    second = _registry(contracts_deploy(client=chain, deployer=operator))

    assert second.created
    assert second.deployment.address != first.deployment.address
    assert ContractDeployment.objects.count() == len(artifacts.DEPLOYED_CONTRACTS)


@pytest.mark.django_db
def test_it_refuses_to_replace_a_contract_running_other_code_unless_asked(chain, operator, snapshot):
    first = _registry(contracts_deploy(client=chain, deployer=operator))
    chain.w3.provider.make_request("anvil_setCode", [first.deployment.address, "0x6001600055"])

    with pytest.raises(LedgerError, match="runs other code than contracts/build"):
        contracts_deploy(client=chain, deployer=operator)
    again = _registry(contracts_deploy(client=chain, deployer=operator, redeploy_changed=True))
    assert again.created


@pytest.mark.django_db
def test_the_command_reports_each_contract(capsys, snapshot):
    call_command("deploy_contracts")
    call_command("deploy_contracts")
    out = capsys.readouterr().out
    assert "PackageRegistry deployed at 0x" in out
    assert "PackageRegistry already deployed at 0x" in out


@pytest.mark.django_db
def test_the_command_fails_with_the_reason(chain, operator, snapshot):
    first = _registry(contracts_deploy(client=chain, deployer=operator))
    chain.w3.provider.make_request("anvil_setCode", [first.deployment.address, "0x6001600055"])
    with pytest.raises(CommandError, match="--redeploy-changed"):
        call_command("deploy_contracts")


def test_a_wrong_keystore_password_is_refused_with_the_variable_names(settings, tmp_path):
    import json

    from django.core.exceptions import ImproperlyConfigured
    from eth_account import Account

    from ledger.signer import operator_account

    path = tmp_path / "operator.json"
    path.write_text(json.dumps(Account.encrypt(b"\x11" * 32, "right", kdf="pbkdf2", iterations=1024)))
    settings.OPERATOR_KEY = None
    settings.OPERATOR_KEYSTORE = path
    settings.OPERATOR_KEYSTORE_PASSWORD = "wrong"
    operator_account.cache_clear()
    try:
        with pytest.raises(
            ImproperlyConfigured, match=r"OPERATOR_KEYSTORE=.* cannot be decrypted with OPERATOR_KEYSTORE_PASSWORD"
        ):
            operator_account()
        settings.OPERATOR_KEYSTORE_PASSWORD = "right"
        operator_account.cache_clear()
        assert operator_account().key.hex() == "11" * 32
    finally:
        operator_account.cache_clear()
