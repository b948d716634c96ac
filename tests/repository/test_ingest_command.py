"""`manage.py ingest` and `nfvm package build|inspect`: the same validation from the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command

from marketplace.repository.models import Package
from marketplace.repository.services import demo_packages
from tests.factories import osm_package, shared_package

pytestmark = pytest.mark.django_db
DEVELOPER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


def test_it_prints_a_json_report_on_acceptance(capsys):
    call_command(
        "ingest",
        str(shared_package("5gtango/eu.5gtango.vnf-package-example.0.1.tgo")),
        "--json",
        "--uploader",
        DEVELOPER,
    )
    report = json.loads(capsys.readouterr().out)
    assert report["accepted"] is True
    assert report["kind"] == "vnf"
    assert Package.objects.filter(pk=report["id"]).exists()


def test_it_fails_listing_the_problems_on_rejection(capsys):
    with pytest.raises(CommandError) as info:
        call_command(
            "ingest",
            str(shared_package("5gtango/5gtango-ns-package-example-bad-checksum.tgo")),
            "--uploader",
            DEVELOPER,
        )
    assert info.value.returncode == 1
    assert "Definitions/myvnfd.yaml" in capsys.readouterr().err
    assert Package.objects.count() == 0


def test_it_refuses_a_folder_and_points_at_the_builder(tmp_path):
    with pytest.raises(CommandError, match="nfvm package build"):
        call_command("ingest", str(tmp_path), "--uploader", DEVELOPER)


def test_a_deployment_must_name_the_uploader():
    with pytest.raises(CommandError, match="--uploader"):
        call_command("ingest", str(shared_package("5gtango/eu.5gtango.vnf-package-example.0.1.tgo")))


def nfvm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "marketplace.cli", *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_every_demo_package_builds_and_inspects_clean(tmp_path):
    built = {}
    for folder, fmt in demo_packages():
        out = tmp_path / f"{folder.name}.pkg"
        result = nfvm("package", "build", str(folder), "--format", fmt, "-o", str(out))
        assert result.returncode == 0, result.stderr
        built[folder.name] = (out, fmt)
    formats = {fmt for _, fmt in built.values()}
    assert formats == {"etsi", "osm", "5gtango"} or formats >= {"osm", "5gtango"}
    vnfs = [str(path) for name, (path, _) in built.items() if name.endswith("vnf")]
    for name, (path, _) in built.items():
        extra = [arg for vnf in vnfs for arg in ("--vnf", vnf)] if not name.endswith("vnf") else []
        result = nfvm("package", "inspect", str(path), "--json", *extra)
        assert result.returncode == 0, f"{name}: {result.stdout}{result.stderr}"
        report = json.loads(result.stdout)
        assert report["accepted"] is True
        # The project's own packages show how it is done: no warning, every check passed.
        assert report["warnings"] == [], f"{name}: {report['warnings']}"
        assert {c["check"]: c["result"] for c in report["checks"]} == dict.fromkeys(
            ("archive", "format", "integrity", "descriptors"), "pass"
        ), name


def test_building_twice_gives_the_same_bytes(tmp_path):
    folder, fmt = demo_packages()[0]
    first = nfvm("package", "build", str(folder), "--format", fmt, "-o", str(tmp_path / "a"))
    second = nfvm("package", "build", str(folder), "--format", fmt, "-o", str(tmp_path / "b"))
    assert first.returncode == second.returncode == 0
    assert (tmp_path / "a").read_bytes() == (tmp_path / "b").read_bytes()


def test_inspect_reports_problems_and_exits_non_zero(tmp_path):
    result = nfvm("package", "inspect", str(shared_package("5gtango/5gtango-ns-package-example-bad-checksum.tgo")))
    assert result.returncode == 1
    assert "Definitions/myvnfd.yaml" in result.stderr


def test_inspect_resolves_an_ns_against_vnf_packages_given(tmp_path):
    ns = osm_package("hackfest_basic_ns", tmp_path)
    alone = nfvm("package", "inspect", str(ns))
    assert alone.returncode == 1
    assert "--vnf" in alone.stderr
    with_vnf = nfvm("package", "inspect", str(ns), "--vnf", str(osm_package("hackfest_basic_vnf", tmp_path)))
    assert with_vnf.returncode == 0, with_vnf.stderr


def test_the_demo_catalogue_seeds_through_ingest(capsys):
    call_command("seed_demo", "--uploader", DEVELOPER)
    kinds = sorted(Package.objects.values_list("format", "kind"))
    assert ("osm", "ns") in kinds
    assert ("5gtango", "ns") in kinds
    call_command("seed_demo", "--uploader", DEVELOPER)
    assert "not seeded" in capsys.readouterr().out


@pytest.mark.django_db(transaction=True)
def test_nfvm_push_signs_in_with_a_keystore_and_uploads(live_server, tmp_path, developer):
    from eth_account import Account

    keystore = tmp_path / "developer.json"
    keystore.write_text(json.dumps(Account.encrypt(developer.key, "pw", kdf="pbkdf2", iterations=1024)))
    package = shared_package("5gtango/eu.5gtango.vnf-package-example.0.1.tgo")
    env_run = subprocess.run(
        [
            sys.executable,
            "-m",
            "marketplace.cli",
            "package",
            "push",
            str(package),
            "--url",
            live_server.url,
            "--keystore",
            str(keystore),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "NFVM_KEYSTORE_PASSWORD": "pw"},
    )
    assert env_run.returncode == 0, env_run.stderr
    assert "stored" in env_run.stdout
    assert Package.objects.get().uploader == developer.address

    rejected = subprocess.run(
        [
            sys.executable,
            "-m",
            "marketplace.cli",
            "package",
            "push",
            str(shared_package("5gtango/5gtango-ns-package-example-bad-checksum.tgo")),
            "--url",
            live_server.url,
            "--keystore",
            str(keystore),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "NFVM_KEYSTORE_PASSWORD": "pw"},
    )
    assert rejected.returncode == 1
    assert "422" in rejected.stderr
    assert "Definitions/myvnfd.yaml" in rejected.stderr
