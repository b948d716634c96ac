"""Ledger benchmarks: gas of registrations, batches, licences and trials on a throwaway anvil, the
indexer's events per second into a throwaway SecantusDB, and `nfvm verify` of 100 MiB vs `sha256sum`."""

from __future__ import annotations

import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.services import DEPLOYMENT_VARS, run_worker  # noqa: E402
from config import embedded  # noqa: E402

BATCH_SIZE = 1024
INDEXER_REGISTRATIONS = 2_000
VERIFY_BYTES = 100 * 1024 * 1024
VERIFY_RUNS = 3
HOUR = 3600
PRICE = 10**16
WORKER_TIMEOUT_S = 1200


def progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def bench_ledger() -> dict[str, float]:
    """Start a throwaway anvil and SecantusDB, measure in a fresh Django process, stop both."""
    return run_worker("bench.ledger", db_on_disk=False, timeout_s=WORKER_TIMEOUT_S)


# --- the worker: runs with Django pointed at the throwaway services ---


def _sha(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def _registration(signer: Any, label: str, line: bytes, version: int, nonce: int, deadline: int) -> Any:
    """A registration of the package labelled `label` (digest and descriptor digest made from it)."""
    from ledger.registry import Registration

    return Registration(
        digest="0x" + _sha(label).hex(),
        name_hash="0x" + line.hex(),
        version=version,
        descriptor_digest="0x" + _sha(f"{label}.vnfd").hex(),
        publisher=signer.address,
        nonce=nonce,
        deadline=deadline,
    )


class _Bench:
    def __init__(self) -> None:
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)

        from eth_account import Account
        from eth_account.signers.local import LocalAccount

        from ledger.client import get_chain_client
        from ledger.licensing import LicenseManager
        from ledger.registry import PackageRegistry
        from ledger.services import contracts_deploy
        from ledger.signer import operator_account

        self.chain = get_chain_client()
        self.w3: Any = self.chain.w3
        self.operator: LocalAccount = operator_account()
        self.developer: LocalAccount = Account.from_key(embedded.ANVIL_DEV_KEYS[1])
        deployed = {
            o.deployment.name: o.deployment.address for o in contracts_deploy(client=self.chain, deployer=self.operator)
        }
        self.reg = PackageRegistry(self.chain, deployed["PackageRegistry"])
        self.lm = LicenseManager(self.chain, deployed["LicenseManager"])

    def account(self, label: str) -> Any:
        """A fresh funded key: one that has never sent or signed anything on this chain."""
        from eth_account import Account

        account = Account.from_key(_sha(f"bench {label}"))
        self.w3.provider.make_request("anvil_setBalance", [account.address, hex(100 * 10**18)])
        return account

    def now(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def gas(self, account: Any, tx: Any, abi: Sequence[Any]) -> int:
        return int(self.chain.transact(account, tx, abi=abi)["gasUsed"])

    def register(self, account: Any, label: str, line: bytes, version: int) -> int:
        tx = self.reg.register(account.address, _sha(label), line, version, _sha(f"{label}.vnfd"))
        return self.gas(account, tx, self.reg.abi)

    def signed(
        self, signer: Any, label: str, line: bytes, version: int, nonce: int, deadline: int
    ) -> tuple[Any, bytes]:
        from eth_account import Account

        registration = _registration(signer, label, line, version, nonce, deadline)
        signature = Account.sign_typed_data(signer.key, full_message=self.reg.typed_data(registration)).signature
        return registration, bytes(signature)

    def relay(self, registration: Any, signature: bytes) -> int:
        tx = self.reg.register_with_signature(self.operator.address, registration, signature)
        return self.gas(self.operator, tx, self.reg.abi)

    def claim(self, claimant: Any, line: bytes) -> tuple[int, int]:
        """Gas of a line claim as the node relays it: the commitment, then (once old enough) the reveal
        with the claimant's EIP-712 signature as its secret."""
        from ledger.registry import LineClaim

        claim = LineClaim(name_hash="0x" + line.hex(), claimant=claimant.address, deadline=self.now() + 23 * HOUR)
        signature = claimant.sign_typed_data(full_message=self.reg.claim_typed_data(claim)).signature
        commit = self.gas(
            self.operator, self.reg.commit_line(self.operator.address, claim.commitment(signature)), self.reg.abi
        )
        self.w3.provider.make_request("evm_increaseTime", [self.reg.min_commitment_age()])
        self.w3.provider.make_request("evm_mine", [])
        reveal = self.gas(self.operator, self.reg.claim_line(self.operator.address, claim, signature), self.reg.abi)
        return commit, reveal

    # -- PackageRegistry

    def registrations(self) -> dict[str, float]:
        from ledger.registry import name_hash

        dev = self.developer
        firewall, router = name_hash("acme", "firewall"), name_hash("acme", "router")
        results: dict[str, float] = {}
        # The developer's first claim also makes it an owner; its second is a line of an existing owner.
        commit, reveal = self.claim(dev, firewall)
        results["gas_claim_line_first_commit"], results["gas_claim_line_first_reveal"] = commit, reveal
        commit, reveal = self.claim(dev, router)
        results["gas_claim_line_commit"], results["gas_claim_line_reveal"] = commit, reveal
        results["gas_claim_line"] = commit + reveal
        # The first registration in a claimed line: its slot gets a version and a nonce from zero.
        results["gas_register_package_direct_first"] = self.register(dev, "fw-1", firewall, 1)
        # A new version of a line: only the line's slot is rewritten; the event keeps the registration.
        results["gas_register_package_direct"] = self.register(dev, "fw-2", firewall, 2)
        deadline = self.now() + HOUR
        # Nonces are the line's registration count, kept in the line's slot: the first relayed
        # registration writes nothing the next one does not.
        nonce = self.reg.line_nonce(firewall)
        results["gas_register_package_first"] = self.relay(*self.signed(dev, "fw-3", firewall, 3, nonce, deadline))
        # "gas_register_package": a signed, relayed new version of an existing line.
        results["gas_register_package"] = self.relay(*self.signed(dev, "fw-4", firewall, 4, nonce + 1, deadline))
        # The first registration in the owner's other claimed line.
        results["gas_register_package_new_line"] = self.relay(*self.signed(dev, "router-1", router, 1, 0, deadline))
        # The same case on a contract that does only what the rules require (contracts/test/RegistrationFloor.sol).
        results["gas_register_package_floor"] = self.floor(dev, firewall, deadline)
        results["gas_register_package_vs_floor"] = round(
            results["gas_register_package"] / results["gas_register_package_floor"], 3
        )
        return results

    def floor(self, signer: Any, line: bytes, deadline: int) -> int:
        """Gas of a relayed signed registration of a line's second version on RegistrationFloor."""
        from ledger import artifacts
        from ledger.registry import typed_data_for

        artifact = artifacts.load("RegistrationFloor")
        tx = self.chain.factory(artifact).constructor().build_transaction({"from": self.operator.address})
        floor = self.chain.bound(artifact, str(self.chain.transact(self.operator, tx)["contractAddress"]))
        gas = 0
        for nonce, version in enumerate((1, 2)):
            registration = _registration(signer, f"floor-{version}", line, version, nonce, deadline)
            typed = typed_data_for(registration, chain_id=self.chain.chain_id(), registry_address=floor.address)
            signed = signer.sign_typed_data(full_message=typed)
            call = floor.functions.register(
                registration.as_args(), signed.v, signed.r.to_bytes(32, "big"), signed.s.to_bytes(32, "big")
            )
            receipt = self.chain.transact(self.operator, call.build_transaction({"from": self.operator.address}))
            gas = int(receipt["gasUsed"])
        return gas

    def batch(self) -> dict[str, float]:
        from ledger.registry import batch_tree, name_hash

        dev = self.developer
        firewall = name_hash("acme", "firewall")
        nonce = self.reg.line_nonce(firewall)
        deadline = self.now() + HOUR
        started = time.perf_counter()
        items = [self.signed(dev, f"fw-batched-{i}", firewall, 100 + i, nonce + i, deadline) for i in range(BATCH_SIZE)]
        progress(f"signed {BATCH_SIZE} registrations in {time.perf_counter() - started:.1f} s")
        tree = batch_tree(items)
        # The registry's first batch writes its batch counter from zero; anchor one before measuring.
        self.gas(self.operator, self.reg.anchor_batch(self.operator.address, _sha("warm-up root"), 1), self.reg.abi)
        receipt = self.chain.transact(
            self.operator, self.reg.anchor_batch(self.operator.address, tree.root, tree.size), abi=self.reg.abi
        )
        batch_id = self.reg.anchored_batch_id(receipt)
        results: dict[str, float] = {
            "gas_batch_anchor_1024": int(receipt["gasUsed"]),
            "gas_batch_anchor_per_package_1024": round(int(receipt["gasUsed"]) / BATCH_SIZE, 2),
        }
        # Leaves are proven in nonce order; the developer already owns the line and has spent nonces,
        # so leaf 0 is the steady-state case.
        registration, signature = items[0]
        tx = self.reg.prove_batched(self.operator.address, batch_id, registration, signature, tree.proof(0), 0)
        results["gas_prove_batched_1024"] = self.gas(self.operator, tx, self.reg.abi)
        return results

    # -- ProvenanceAnchor

    def provenance(self) -> dict[str, float]:
        """The operator's anchoring of a full default batch of provenance entries, as the worker does it."""
        from django.conf import settings

        from marketplace.contract_manager.models import ProvenanceEntry
        from marketplace.contract_manager.provenance import provenance_anchor_pending, provenance_append

        batch = settings.PROVENANCE_BATCH
        # The anchor's first range writes its counters from zero; anchor one entry before measuring.
        provenance_append(kind="decision", actor="bench", subject="warm-up", payload={"n": 0})
        provenance_anchor_pending(max_entries=1)
        started = time.perf_counter()
        for i in range(batch):
            provenance_append(kind="decision", actor="bench", subject=f"pkg-{i % 16}", payload={"permit": True, "n": i})
        appended_s = time.perf_counter() - started
        progress(f"appended {batch} provenance entries in {appended_s:.1f} s")
        assert provenance_anchor_pending(max_entries=batch) == batch
        first = ProvenanceEntry.objects.get(seq=2)
        gas = int(self.w3.eth.get_transaction_receipt(first.anchor_tx_hash)["gasUsed"])
        return {
            "provenance_anchor_gas": gas,
            "provenance_anchor_batch": batch,
            "provenance_anchor_gas_per_event": round(gas / batch, 2),
            "provenance_append_per_s": round(batch / appended_s, 1),
        }

    # -- LicenseManager

    def licences(self) -> dict[str, float]:
        from ledger.licensing import OfferKind
        from ledger.registry import name_hash

        dev, lm = self.developer, self.lm
        package = _sha("fw-1")  # registered by the developer above
        terms = _sha("acme licence policy v1")
        offers: list[tuple[OfferKind, dict[str, Any]]] = [
            (OfferKind.PRIVATE, {"price": PRICE, "seats": 3, "duration": 30 * 24 * HOUR}),
            (OfferKind.TRIAL, {"seats": 1, "duration": 7 * 24 * HOUR}),
        ]
        line = name_hash("acme", "firewall")  # the developer's line, claimed above
        for kind, extra in offers:
            tx = lm.create_offer(dev.address, digest=package, name_hash=line, kind=kind, terms_hash=terms, **extra)
            self.chain.transact(dev, tx, abi=lm.abi)
        private, trial = lm.offer(1), lm.offer(2)
        if private is None or trial is None:
            raise RuntimeError("the benchmark's offers were not created")

        def purchase(label: str) -> int:
            buyer = self.account(label)
            agreement = lm.agreement(private, buyer.address, deadline=self.now() + HOUR)
            signature = buyer.sign_typed_data(full_message=lm.typed_data(agreement)).signature
            return self.gas(buyer, lm.purchase(buyer.address, private, agreement, signature), lm.abi)

        def activate(label: str) -> int:
            # The marketplace relays trials: the operator sends the licensee's signed agreement.
            user = self.account(label)
            agreement = lm.agreement(trial, user.address, deadline=self.now() + HOUR)
            signature = user.sign_typed_data(full_message=lm.typed_data(agreement)).signature
            return self.gas(self.operator, lm.activate_trial(self.operator.address, agreement, signature), lm.abi)

        def held(buyer: Any) -> int:
            licence_id = lm.licence_for(private.offer_id, buyer.address)
            if licence_id is None:
                raise RuntimeError(f"{buyer.address} holds no licence of the benchmark's offer")
            return licence_id

        def renew(buyer: Any) -> int:
            licence_id = held(buyer)
            agreement = lm.agreement(private, buyer.address, deadline=self.now() + HOUR)
            signature = buyer.sign_typed_data(full_message=lm.typed_data(agreement)).signature
            return self.gas(buyer, lm.renew(buyer.address, licence_id, private, agreement, signature), lm.abi)

        def open_seat(buyer: Any) -> int:
            # The marketplace node (the operator) relays the licensee's signed SeatOpening.
            licence_id = held(buyer)
            opening = lm.seat_opening(licence_id, self.operator.address, 1, deadline=self.now() + HOUR)
            signature = buyer.sign_typed_data(full_message=lm.seat_typed_data(opening)).signature
            return self.gas(self.operator, lm.open_seats(self.operator.address, opening, signature), lm.abi)

        def close_seat(buyer: Any) -> int:
            licence_id = held(buyer)
            return self.gas(
                self.operator, lm.close_seats(self.operator.address, licence_id, self.operator.address, 1), lm.abi
            )

        # "_first": the first licence in the contract and under the offer (counters and the
        # provider's earnings written from zero); the others: another new licensee of the same offer.
        results: dict[str, float] = {
            "gas_purchase_private_licence_first": purchase("buyer 1"),
            "gas_purchase_private_licence": purchase("buyer 2"),
            "gas_activate_trial_first": activate("trial user 1"),
            "gas_activate_trial": activate("trial user 2"),
        }
        # Seats: "_first" is this node's first opening under the licence (its holding slot written from
        # zero); "gas_seat_open" a later one, as every instance after the first; closing rewrites both slots.
        buyer = self.account("buyer 2")
        results["gas_seat_open_first"] = open_seat(buyer)
        results["gas_seat_open"] = open_seat(buyer)
        results["gas_seat_close"] = close_seat(buyer)
        results["gas_seat_close_last"] = close_seat(buyer)  # the licence's last open seat
        results["gas_renew_private_licence_first"] = renew(buyer)  # its later-agreements slot from zero
        results["gas_renew_private_licence"] = renew(buyer)
        return results

    # -- the indexer

    def indexer(self) -> dict[str, float]:
        from eth_account import Account

        from ledger.indexer import Indexer
        from ledger.projections import projections
        from ledger.registry import name_hash

        # A publisher of its own, so its transaction nonces are nobody else's.
        publisher = self.account("indexer publisher")
        line = name_hash("acme", "indexer")
        self.claim(publisher, line)
        nonce = int(self.w3.eth.get_transaction_count(publisher.address))
        base = int(self.w3.eth.get_block("latest")["baseFeePerGas"])
        raw: list[bytes] = []
        for i in range(INDEXER_REGISTRATIONS):
            tx = dict(self.reg.register(publisher.address, _sha(f"idx-{i}"), line, i + 1, _sha(f"idx-{i}.vnfd")))
            # Fixed gas and fees: estimating each would cost a round trip, and none of these reverts.
            tx.update(nonce=nonce + i, gas=200_000, maxFeePerGas=4 * base + 10**9, maxPriorityFeePerGas=10**9)
            raw.append(bytes(Account.sign_transaction(tx, publisher.key).raw_transaction))
        started = time.perf_counter()
        hashes = [self.w3.eth.send_raw_transaction(r) for r in raw]
        last = self.w3.eth.wait_for_transaction_receipt(hashes[-1], timeout=300)
        sent_s = time.perf_counter() - started
        if last["status"] != 1:
            raise RuntimeError("the last of the indexer's registrations reverted")
        progress(f"sent {len(raw)} registrations in {sent_s:.1f} s")

        indexer = Indexer(self.chain, projections, confirmations=0, batch_blocks=2000)
        head = int(self.w3.eth.block_number)
        events, steps = 0, 0
        started = time.perf_counter()
        while True:
            result = indexer.step()
            events += result.events
            steps += 1
            if result.indexed_to >= head and result.events == 0:
                break
        elapsed = time.perf_counter() - started
        progress(f"indexed {events} events in {steps} steps, {elapsed:.1f} s")
        return {"indexer_events": events, "indexer_events_per_s": round(events / elapsed, 1)}

    # -- nfvm verify

    def verify(self, tmp: Path) -> dict[str, float]:
        """`nfvm verify` of a registered 100 MiB package (a demo package with a 100 MiB image) over
        `sha256sum` of it: OSM .tar.gz (the key without a format) and ETSI CSAR."""
        results: dict[str, float] = {}
        for fmt, folder, key in (
            ("osm", "osm/nfvm_demo_amf_vnf", "verify_100mib"),
            ("etsi", "etsi/nfvm-demo-smf-vnf", "verify_100mib_csar"),
        ):
            path = self._image_package(tmp, fmt, folder)
            verify_s, sha_s = self._verify_vs_sha256sum(path)
            path.unlink()
            results[f"{key}_s"] = round(verify_s, 3)
            results[f"sha256sum_{key.removeprefix('verify_')}_s"] = round(sha_s, 3)
            results[f"{key}_ratio_vs_sha256sum"] = round(verify_s / sha_s, 2)
        return results

    def _image_package(self, tmp: Path, fmt: str, folder: str) -> Path:
        """A demo package with a 100 MiB image beside its descriptors, registered under its own identity."""
        import shutil

        from ledger.registry import name_hash, version_number
        from marketplace.repository.packages.build import build
        from marketplace.repository.packages.identity import package_identity

        source = tmp / "verify" / Path(folder).name
        shutil.rmtree(source.parent, ignore_errors=True)
        shutil.copytree(ROOT / "demo" / "packages" / folder, source)
        (source / "images").mkdir(exist_ok=True)
        with (source / "images" / "image.qcow2").open("wb") as out:
            for _ in range(VERIFY_BYTES // (1024 * 1024)):
                out.write(os.urandom(1024 * 1024))
        path = build(source, fmt, tmp / f"package-100mib.{fmt}")  # type: ignore[arg-type]
        shutil.rmtree(source.parent)
        with path.open("rb") as handle:
            claimed = package_identity(handle)
        info = claimed.info
        if info is None or claimed.descriptor_digest is None:
            raise RuntimeError(f"the {fmt} benchmark package does not say what it is: {claimed.problems}")
        digest = hashlib.sha256(path.read_bytes()).digest()
        if self.reg.line_owner(name_hash(info.vendor, info.name)) is None:
            self.claim(self.developer, name_hash(info.vendor, info.name))
        tx = self.reg.register(
            self.developer.address,
            digest,
            name_hash(info.vendor, info.name),
            version_number(info.version),
            bytes.fromhex(claimed.descriptor_digest),
        )
        self.gas(self.developer, tx, self.reg.abi)
        return path

    def _verify_vs_sha256sum(self, path: Path) -> tuple[float, float]:
        """Median seconds of `nfvm verify` (which must say verified) and of `sha256sum`, file in the page cache."""
        # What a user runs: no deployment settings, only the node and the registry address.
        env = {k: v for k, v in os.environ.items() if k not in (*DEPLOYMENT_VARS, "DJANGO_SETTINGS_MODULE")}
        verify_cmd = [sys.executable, "-m", "marketplace.cli", "verify", str(path), "--rpc", self.chain.rpc_url]
        verify_cmd += ["--registry", self.reg.address]
        sha_cmd = ["sha256sum", str(path)]

        def timed(cmd: list[str]) -> float:
            started = time.perf_counter()
            done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
            elapsed = time.perf_counter() - started
            if done.returncode != 0:
                raise RuntimeError(f"{' '.join(cmd)} exited with {done.returncode}:\n{done.stdout}{done.stderr}")
            return elapsed

        timed(sha_cmd)  # the file in the page cache for both, as it is right after a download
        verify_s = statistics.median(timed(verify_cmd) for _ in range(VERIFY_RUNS))
        sha_s = statistics.median(timed(sha_cmd) for _ in range(VERIFY_RUNS))
        return verify_s, sha_s


def worker() -> int:
    tmp = Path(os.environ["NFVM_BENCH_TMP"])
    bench = _Bench()
    results: dict[str, float] = {}
    for name, measure in (
        ("registrations", bench.registrations),
        ("batch", bench.batch),
        ("licences", bench.licences),
        ("provenance", bench.provenance),
        ("indexer", bench.indexer),
    ):
        progress(f"ledger: {name}")
        results.update(measure())
    progress("ledger: verify")
    results.update(bench.verify(tmp))
    print(json.dumps(results), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(worker())
