"""LicenseManager bindings: the EIP-712 licence agreement and seat opening a licensee signs, unsigned
transactions for every LicenseManager write, and typed reads of offers, licences and seats."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi.abi import encode as abi_encode
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils.crypto import keccak
from hexbytes import HexBytes
from web3 import Web3
from web3.contract.contract import ContractFunction
from web3.types import TxParams, TxReceipt

from ledger import artifacts
from ledger.binding import bytes32 as _bytes32
from ledger.binding import hex32 as _hex32
from ledger.binding import named_struct, only_event, receipt_events, unsigned_tx
from ledger.client import ChainClient
from ledger.exceptions import LedgerError

CONTRACT_NAME = "LicenseManager"
DOMAIN_NAME = "NFV Marketplace LicenseManager"
DOMAIN_VERSION = "1"
ZERO_ADDRESS = "0x" + "00" * 20
LICENCE_ID_MODULUS = 2**63 - 1

AGREEMENT_TYPES: dict[str, list[dict[str, str]]] = {
    "EIP712Domain": [
        {"name": "name", "type": "string"},
        {"name": "version", "type": "string"},
        {"name": "chainId", "type": "uint256"},
        {"name": "verifyingContract", "type": "address"},
    ],
    "LicenceAgreement": [
        {"name": "offerId", "type": "uint256"},
        {"name": "termsHash", "type": "bytes32"},
        {"name": "licensee", "type": "address"},
        {"name": "seats", "type": "uint32"},
        {"name": "duration", "type": "uint64"},
        {"name": "nonce", "type": "uint256"},
        {"name": "deadline", "type": "uint256"},
    ],
}

SEAT_OPENING_TYPES: dict[str, list[dict[str, str]]] = {
    "EIP712Domain": AGREEMENT_TYPES["EIP712Domain"],
    "SeatOpening": [
        {"name": "licenceId", "type": "uint256"},
        {"name": "node", "type": "address"},
        {"name": "count", "type": "uint32"},
        {"name": "nonce", "type": "uint64"},
        {"name": "deadline", "type": "uint256"},
    ],
}

# The most seats an offer holds (LicenseManager.MAX_SEATS: a licence counts its open seats in 16 bits).
MAX_SEATS = 2**16 - 1

# The token of an offer paid in ether.
ETHER: str | None = None

_ERC20_APPROVE_ABI: list[dict[str, Any]] = [
    {
        "type": "function",
        "name": "approve",
        "stateMutability": "nonpayable",
        "inputs": [{"name": "spender", "type": "address"}, {"name": "value", "type": "uint256"}],
        "outputs": [{"name": "", "type": "bool"}],
    }
]


class OfferKind(enum.IntEnum):
    PUBLIC = 0
    TRIAL = 1
    PRIVATE = 2


class LicenceStatus(enum.IntEnum):
    NONE = 0
    ACTIVE = 1
    EXPIRED = 2
    TRANSFERRED = 3  # handed on: it continues under the recipient's licence id


@dataclass(frozen=True)
class Offer:
    offer_id: int
    package_key: str  # keccak256(abi.encode(digest, nameHash)): the package is the pair
    name_hash: str
    provider: str
    kind: OfferKind
    price: int
    token: str | None  # None: paid in ether
    duration: int  # seconds; 0: licences do not expire
    seats: int  # 0: unlimited (Public only)
    terms_hash: str
    transferable: bool
    closed: bool

    @property
    def open(self) -> bool:
        return not self.closed


@dataclass(frozen=True)
class Licence:
    licence_id: int
    offer_id: int
    licensee: str
    seats: int
    expires_at: int | None  # seconds since the epoch; None: no expiry
    status: LicenceStatus
    seats_in_use: int = 0  # seats open on chain now, across every node

    @property
    def valid(self) -> bool:
        return self.status is LicenceStatus.ACTIVE


@dataclass(frozen=True)
class LicenceAgreement:
    """What a licensee signs. `duration` equals the offer's: the licence runs from the block that
    includes the transaction, which nobody knows when signing."""

    offer_id: int
    terms_hash: str
    licensee: str
    seats: int
    duration: int
    nonce: int
    deadline: int

    def message(self) -> dict[str, Any]:
        return {
            "offerId": self.offer_id,
            "termsHash": _hex32(self.terms_hash),
            "licensee": Web3.to_checksum_address(self.licensee),
            "seats": self.seats,
            "duration": self.duration,
            "nonce": self.nonce,
            "deadline": self.deadline,
        }

    def as_args(self) -> tuple[int, bytes, str, int, int, int, int]:
        """The Solidity `LicenceAgreement` struct as a call argument."""
        return (
            self.offer_id,
            _bytes32(self.terms_hash),
            Web3.to_checksum_address(self.licensee),
            self.seats,
            self.duration,
            self.nonce,
            self.deadline,
        )


@dataclass(frozen=True)
class SeatOpening:
    """What a licensee signs to let `node` (the marketplace node that relays it) open `count` seats of
    its licence. LicenseManager rebuilds it with the sender as the node, so only that node can use it."""

    licence_id: int
    node: str
    count: int
    nonce: int
    deadline: int

    def message(self) -> dict[str, Any]:
        # A licence id has 63 bits, more than a JavaScript number holds exactly: a decimal string, which
        # wallets (and eth-account) read as the uint256 it is.
        return {
            "licenceId": str(self.licence_id),
            "node": Web3.to_checksum_address(self.node),
            "count": self.count,
            "nonce": self.nonce,
            "deadline": self.deadline,
        }


def seat_opening_typed_data(opening: SeatOpening, *, chain_id: int, manager_address: str) -> dict[str, Any]:
    """The EIP-712 payload of a seat opening, as a wallet signs it with eth_signTypedData_v4."""
    return _typed_data(SEAT_OPENING_TYPES, "SeatOpening", opening.message(), chain_id, manager_address)


def _typed_data(
    types: dict[str, list[dict[str, str]]], primary: str, message: dict[str, Any], chain_id: int, manager: str
) -> dict[str, Any]:
    """A LicenseManager EIP-712 payload: its domain ("NFV Marketplace LicenseManager", "1", chain, contract)."""
    return {
        "types": {name: [dict(field) for field in fields] for name, fields in types.items()},
        "primaryType": primary,
        "domain": {
            "name": DOMAIN_NAME,
            "version": DOMAIN_VERSION,
            "chainId": chain_id,
            "verifyingContract": Web3.to_checksum_address(manager),
        },
        "message": message,
    }


def seat_opening_from_typed_data(payload: dict[str, Any]) -> SeatOpening:
    """The seat opening inside a signed EIP-712 payload (for instance one a browser sent back)."""
    if not isinstance(payload, dict) or payload.get("primaryType") != "SeatOpening":
        raise LedgerError("the typed data is not a SeatOpening")
    try:
        message = payload["message"]
        return SeatOpening(
            licence_id=int(message["licenceId"]),
            node=Web3.to_checksum_address(message["node"]),
            count=int(message["count"]),
            nonce=int(message["nonce"]),
            deadline=int(message["deadline"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise LedgerError(f"the SeatOpening's message is incomplete or malformed: {exc}") from exc


def seat_opening_signed(payload: dict[str, Any], signature: str) -> tuple[SeatOpening, str]:
    """The seat opening in a signed EIP-712 payload, and the address its signature recovers to (a contract
    wallet's ERC-1271 signature recovers to none of its own: LicenseManager asks the wallet on chain)."""
    opening = seat_opening_from_typed_data(payload)
    try:
        signer = Account.recover_message(encode_typed_data(full_message=payload), signature=signature)
    except (ValueError, TypeError, KeyError) as exc:
        raise LedgerError(f"the SeatOpening's signature cannot be read: {exc}") from exc
    return opening, Web3.to_checksum_address(signer)


def agreement_typed_data(
    chain_id: int,
    manager_address: str,
    offer_id: int,
    terms_hash: bytes | str,
    licensee: str,
    seats: int,
    duration: int,
    nonce: int,
    deadline: int,
) -> dict[str, Any]:
    """The full EIP-712 payload a wallet signs with eth_signTypedData_v4 (JSON-serialisable)."""
    agreement = LicenceAgreement(
        offer_id=offer_id,
        terms_hash=_hex32(terms_hash),
        licensee=licensee,
        seats=seats,
        duration=duration,
        nonce=nonce,
        deadline=deadline,
    )
    return typed_data_for(agreement, chain_id=chain_id, manager_address=manager_address)


def typed_data_for(agreement: LicenceAgreement, *, chain_id: int, manager_address: str) -> dict[str, Any]:
    return _typed_data(AGREEMENT_TYPES, "LicenceAgreement", agreement.message(), chain_id, manager_address)


def agreement_from_typed_data(payload: dict[str, Any]) -> LicenceAgreement:
    """The agreement inside a signed EIP-712 payload (for instance one a browser sent back)."""
    if payload.get("primaryType") != "LicenceAgreement":
        raise LedgerError("the typed data is not a LicenceAgreement")
    message = payload["message"]
    return LicenceAgreement(
        offer_id=int(message["offerId"]),
        terms_hash=_hex32(message["termsHash"]),
        licensee=Web3.to_checksum_address(message["licensee"]),
        seats=int(message["seats"]),
        duration=int(message["duration"]),
        nonce=int(message["nonce"]),
        deadline=int(message["deadline"]),
    )


def agreement_mismatches(agreement: LicenceAgreement, offer: Offer) -> list[str]:
    """How `agreement` differs from what `offer` requires: the contract rebuilds the signed
    agreement from the offer, so any difference makes the signature fail to verify on chain."""
    wanted = {
        "offerId": (agreement.offer_id, offer.offer_id),
        "termsHash": (_hex32(agreement.terms_hash), _hex32(offer.terms_hash)),
        "seats": (agreement.seats, offer.seats),
        "duration": (agreement.duration, offer.duration),
    }
    return [
        f"{name} is {given}, offer {offer.offer_id} has {expected}"
        for name, (given, expected) in wanted.items()
        if given != expected
    ]


def _check_agreement(agreement: LicenceAgreement, offer: Offer, *, payer: str) -> None:
    problems = agreement_mismatches(agreement, offer)
    if Web3.to_checksum_address(payer) != Web3.to_checksum_address(agreement.licensee):
        problems.append(f"the payer {payer} is not the licensee {agreement.licensee}")
    if problems:
        raise LedgerError("the licence agreement does not match: " + "; ".join(problems))


def licence_id_of(offer_id: int, licensee: str) -> int:
    """The id of `licensee`'s licence under an offer (LicenseManager.licenceIdOf): a hash of the pair
    below 2**63, so that it fits a 64-bit integer field."""
    encoded = abi_encode(["uint256", "address"], [offer_id, Web3.to_checksum_address(licensee)])
    return int.from_bytes(keccak(encoded), "big") % LICENCE_ID_MODULUS + 1


def typed_data_hash(payload: dict[str, Any]) -> str:
    """The EIP-712 digest of a payload: what the licensee signs and LicenseManager emits."""
    signable = encode_typed_data(full_message=payload)
    return Web3.keccak(b"\x19" + bytes(signable.version) + signable.header + signable.body).to_0x_hex()


class LicenseManager:
    """One deployed LicenseManager. Writes come back as unsigned transactions: the licensee's wallet
    (or the operator, for relayed trials) signs and sends them, e.g. with `ChainClient.transact`."""

    def __init__(self, client: ChainClient, address: str) -> None:
        self.client = client
        self.address = Web3.to_checksum_address(address)
        self.contract = client.bound(artifacts.load(CONTRACT_NAME), self.address)

    @classmethod
    def deployed(cls, client: ChainClient) -> LicenseManager:
        """The LicenseManager recorded for the connected chain."""
        from ledger.selectors import deployed_address  # Django models: only where records are read

        return cls(client, deployed_address(client, CONTRACT_NAME))

    @property
    def abi(self) -> Sequence[Any]:
        """For `ChainClient.transact(..., abi=)`, which decodes the contract's custom errors."""
        return self.contract.abi

    # -- agreements

    def agreement(self, offer: Offer, licensee: str, *, deadline: int) -> LicenceAgreement:
        """The agreement `licensee` must sign to license `offer`, with the pair's next nonce."""
        return LicenceAgreement(
            offer_id=offer.offer_id,
            terms_hash=offer.terms_hash,
            licensee=Web3.to_checksum_address(licensee),
            seats=offer.seats,
            duration=offer.duration,
            nonce=self.nonce(offer.offer_id, licensee),
            deadline=deadline,
        )

    def typed_data(self, agreement: LicenceAgreement) -> dict[str, Any]:
        return typed_data_for(agreement, chain_id=self.client.chain_id(), manager_address=self.address)

    def seat_opening(self, licence_id: int, node: str, count: int, *, deadline: int) -> SeatOpening:
        """The seat opening the licensee signs for `node`, with the node's next nonce for the licence."""
        return SeatOpening(
            licence_id=licence_id,
            node=Web3.to_checksum_address(node),
            count=count,
            nonce=self.seat_holding(licence_id, node)[1],
            deadline=deadline,
        )

    def seat_typed_data(self, opening: SeatOpening) -> dict[str, Any]:
        return seat_opening_typed_data(opening, chain_id=self.client.chain_id(), manager_address=self.address)

    # -- unsigned transactions

    def authorise_provider(
        self, sender: str, digest: bytes | str, name_hash: bytes | str, provider: str, authorised: bool = True
    ) -> TxParams:
        return self._tx(
            sender,
            "authoriseProvider",
            _bytes32(digest),
            _bytes32(name_hash),
            Web3.to_checksum_address(provider),
            authorised,
        )

    def create_offer(
        self,
        sender: str,
        *,
        digest: bytes | str,
        name_hash: bytes | str,
        kind: OfferKind,
        terms_hash: bytes | str,
        price: int = 0,
        token: str | None = ETHER,
        duration: int = 0,
        seats: int = 0,
        transferable: bool = False,
    ) -> TxParams:
        return self._tx(
            sender,
            "createOffer",
            _bytes32(digest),
            _bytes32(name_hash),
            int(kind),
            price,
            Web3.to_checksum_address(token or ZERO_ADDRESS),
            duration,
            seats,
            _bytes32(terms_hash),
            transferable,
        )

    def close_offer(self, sender: str, offer_id: int) -> TxParams:
        return self._tx(sender, "closeOffer", offer_id)

    def purchase(self, sender: str, offer: Offer, agreement: LicenceAgreement, signature: bytes | str) -> TxParams:
        """Buy under `offer`; ether offers carry the exact price as value, token offers need
        `approve_payment` mined first. `sender` must be the licensee: it pays and it signed."""
        _check_agreement(agreement, offer, payer=sender)
        value = offer.price if offer.token is None else 0
        return self._tx(sender, "purchase", offer.offer_id, agreement.deadline, HexBytes(signature), value=value)

    def activate_trial(self, sender: str, agreement: LicenceAgreement, signature: bytes | str) -> TxParams:
        """`sender` may be the licensee or a relayer (the operator) that pays the gas."""
        return self._tx(
            sender,
            "activateTrial",
            agreement.offer_id,
            Web3.to_checksum_address(agreement.licensee),
            agreement.deadline,
            HexBytes(signature),
        )

    def renew(
        self, sender: str, licence_id: int, offer: Offer, agreement: LicenceAgreement, signature: bytes | str
    ) -> TxParams:
        _check_agreement(agreement, offer, payer=sender)
        value = offer.price if offer.token is None else 0
        return self._tx(sender, "renew", licence_id, agreement.deadline, HexBytes(signature), value=value)

    def open_seats(self, sender: str, opening: SeatOpening, signature: bytes | str) -> TxParams:
        """`sender` must be the node the licensee's signed `opening` names."""
        if Web3.to_checksum_address(sender) != Web3.to_checksum_address(opening.node):
            raise LedgerError(f"the seat opening names node {opening.node}, not the sender {sender}")
        return self._tx(sender, "openSeats", opening.licence_id, opening.count, opening.deadline, HexBytes(signature))

    def cancel_seat_openings(self, sender: str, licence_id: int, node: str) -> TxParams:
        """The licensee voids the openings it signed for `node` that were not used yet."""
        return self._tx(sender, "cancelSeatOpenings", licence_id, Web3.to_checksum_address(node))

    def close_seats(self, sender: str, licence_id: int, node: str, count: int) -> TxParams:
        """`sender`: the node that opened the seats, or the licensee."""
        return self._tx(sender, "closeSeats", licence_id, Web3.to_checksum_address(node), count)

    def transfer_licence(self, sender: str, licence_id: int, to: str) -> TxParams:
        return self._tx(sender, "transferLicence", licence_id, Web3.to_checksum_address(to))

    def withdraw(self, sender: str, token: str | None = ETHER) -> TxParams:
        return self._tx(sender, "withdraw", Web3.to_checksum_address(token or ZERO_ADDRESS))

    def approve_payment(self, sender: str, offer: Offer) -> TxParams:
        """The ERC-20 approval letting this contract pull exactly the price of a token offer."""
        if offer.token is None:
            raise LedgerError(f"offer {offer.offer_id} is paid in ether and needs no approval")
        token = self.client.w3.eth.contract(address=Web3.to_checksum_address(offer.token), abi=_ERC20_APPROVE_ABI)
        data = token.encode_abi("approve", args=[self.address, offer.price])
        return unsigned_tx(sender, offer.token, data, self.client.chain_id())

    # -- reads

    def offer(self, offer_id: int) -> Offer | None:
        """The offer, or None when there is no such offer."""
        raw = self._read(self.contract.functions.offer(offer_id))
        fields = named_struct(self.contract.abi, "offer", raw, contract=CONTRACT_NAME)
        if int(fields["provider"], 16) == 0:
            return None
        token = Web3.to_checksum_address(fields["token"])
        return Offer(
            offer_id=offer_id,
            package_key=HexBytes(fields["packageKey"]).to_0x_hex(),
            name_hash=HexBytes(fields["nameHash"]).to_0x_hex(),
            provider=Web3.to_checksum_address(fields["provider"]),
            kind=OfferKind(fields["kind"]),
            price=int(fields["price"]),
            token=None if int(token, 16) == 0 else token,
            duration=int(fields["duration"]),
            seats=int(fields["seats"]),
            terms_hash=HexBytes(fields["termsHash"]).to_0x_hex(),
            transferable=bool(fields["transferable"]),
            closed=bool(fields["closed"]),
        )

    def licence(self, licence_id: int) -> Licence | None:
        """The licence with its status now, or None when there is no such licence."""
        raw = self._read(self.contract.functions.licence(licence_id))
        fields = named_struct(self.contract.abi, "licence", raw, contract=CONTRACT_NAME)
        status = LicenceStatus(fields["status"])
        if status is LicenceStatus.NONE:
            return None
        expires_at = int(fields["expiresAt"])
        return Licence(
            licence_id=licence_id,
            offer_id=int(fields["offerId"]),
            licensee=Web3.to_checksum_address(fields["licensee"]),
            seats=int(fields["seats"]),
            expires_at=expires_at or None,
            status=status,
            seats_in_use=int(fields["seatsInUse"]),
        )

    def seats_in_use(self, licence_id: int) -> int:
        """The seats of the licence open on chain now, across every node."""
        return int(self._read(self.contract.functions.seatsInUse(licence_id)))

    def seat_holding(self, licence_id: int, node: str) -> tuple[int, int]:
        """(seats `node` holds open under the licence, the nonce of its next seat opening)."""
        opened, nonce = self._read(self.contract.functions.seatHolding(licence_id, Web3.to_checksum_address(node)))
        return int(opened), int(nonce)

    def is_valid(self, licence_id: int) -> bool:
        return bool(self._read(self.contract.functions.isValid(licence_id)))

    def licence_for(self, offer_id: int, licensee: str) -> int | None:
        """The id of the licence `licensee` currently holds under the offer (valid or lapsed), if any."""
        licence_id = int(self._read(self.contract.functions.licenceFor(offer_id, Web3.to_checksum_address(licensee))))
        return licence_id or None

    def has_valid_licence(self, offer_id: int, account: str) -> bool:
        """True for an open Public offer, else when `account` holds a valid licence under it."""
        fn = self.contract.functions.hasValidLicence(offer_id, Web3.to_checksum_address(account))
        return bool(self._read(fn))

    def is_provider(self, digest: bytes | str, name_hash: bytes | str, account: str) -> bool:
        fn = self.contract.functions.isProvider(
            _bytes32(digest), _bytes32(name_hash), Web3.to_checksum_address(account)
        )
        return bool(self._read(fn))

    def nonce(self, offer_id: int, licensee: str) -> int:
        """The nonce `licensee`'s next agreement under the offer carries: agreements accepted so far."""
        fn = self.contract.functions.agreementNonce(offer_id, Web3.to_checksum_address(licensee))
        return int(self._read(fn))

    def earnings(self, provider: str, token: str | None = ETHER) -> int:
        fn = self.contract.functions.earnings(
            Web3.to_checksum_address(provider), Web3.to_checksum_address(token or ZERO_ADDRESS)
        )
        return int(self._read(fn))

    def events(self, receipt: TxReceipt, name: str) -> list[dict[str, Any]]:
        """The arguments of each `name` event this contract emitted in a mined transaction."""
        return receipt_events(self.contract, receipt, name)

    def transferred_licence_id(self, receipt: TxReceipt) -> int:
        """The id a transferred licence continues under (the recipient's)."""
        return int(only_event(self.contract, receipt, "LicenceTransferred")["toLicenceId"])

    def issued_licence_id(self, receipt: TxReceipt) -> int:
        """The id of the licence a purchase or trial activation issued."""
        return int(only_event(self.contract, receipt, "LicenceIssued")["licenceId"])

    # -- helpers

    def _read(self, fn: ContractFunction) -> Any:
        return self.client.call(fn.call)

    def _tx(self, sender: str, function: str, *args: Any, value: int = 0) -> TxParams:
        data = self.contract.encode_abi(function, args=list(args))
        return unsigned_tx(sender, self.address, data, self.client.chain_id(), value)
