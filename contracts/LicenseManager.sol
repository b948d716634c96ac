// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IERC5267} from "@openzeppelin/contracts/interfaces/IERC5267.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

/// @notice The part of PackageRegistry that licensing relies on: who acts for a line, and a package's status.
interface IPackageRegistry {
    enum Status {
        None,
        Active,
        Deprecated,
        Revoked
    }

    /// @dev The status the line owner gave a package, by its key keccak256(abi.encode(digest, nameHash)):
    ///      Deprecated, Revoked, or None when never changed.
    function statusOf(bytes32 packageKey) external view returns (Status);

    /// @dev The current publishing key of the line's owner (it changes when the owner rotates keys);
    ///      zero for an unclaimed line.
    function lineKey(bytes32 nameHash) external view returns (address);
}

/// @title LicenseManager
/// @notice Licence offers on registered NFV packages and the licences end-users acquire under them.
///         A provider (the current key of the package's line owner, or an address it authorises)
///         offers a package under one of three kinds: Public (free, unlimited, needs no licence), Trial
///         (free, limited seats and time, once per address) or Private (paid in ether or an ERC-20
///         token, limited seats, optional expiry, optionally transferable). Every licence binds an
///         EIP-712 agreement signed by the licensee to the offer's off-chain terms document. Providers
///         withdraw their earnings (pull payment). Records are never deleted.
/// @dev    A package is the pair (digest, line): the same bytes registered under a line they do not
///         name are another package, so only the owner of the line a file names can sell it. The
///         registry keeps registrations in events, so an offer names a pair the line owner vouches
///         for; readers match it with the PackageRegistered event of that pair.
///
///         Offers are immutable once created except for closing, so an offer id pins price, token,
///         seats, duration and terms.
///
///         Seats are counted here, per licence: a marketplace node opens seats when an instance or a
///         unit starts, under the licensee's EIP-712 `SeatOpening` (which names that node, a nonce and
///         a deadline), and closes them when it ends; the licensee may close any of them. The count
///         never exceeds the offer's seats, a licence with open seats does not transfer, a lapsed
///         licence opens none, and renewing or buying again keeps the count. Each node's seats and
///         its nonce share one slot per licence, so a node closes only the seats it opened.
///
///         The registry address and the EIP-712 domain separator ("NFV Marketplace LicenseManager",
///         "1", chain id, this contract) are immutables (read from the code, not a storage slot): the
///         marketplace tells whether a deployment runs the committed build by hashing its runtime
///         code with the immutables' bytes zeroed (ledger.artifacts.Artifact.runs_this_build).
///
///         Gas: a licensing call carries only the agreement's deadline and signature; the signed
///         agreement is rebuilt from the offer's slots the call reads anyway, so terms, seats,
///         duration and nonce cost no calldata. A trial activation reads two slots of its offer
///         and the licence's slot, and reads nothing from the registry (see `activateTrial`).
///
///         Issuing a licence writes one fresh slot. A licence is keyed by its licensee and
///         offer: its id is derived from (offerId, licensee), so the same slot answers "does this
///         address hold a licence under this offer" (once per address for trials, one valid licence
///         for purchases) and `licence(id)`. The agreement nonce is 0 while that slot is empty, so a
///         first licence writes no nonce slot; later agreements for the pair (renewals, buying
///         again) count in a 256-bit slot of their own (`_laterAgreements`). An
///         address that buys again under an offer after its licence lapsed gets the same id back
///         with a new expiry; a transfer moves the licence to the recipient's id.
contract LicenseManager is IERC5267, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    enum OfferKind {
        Public,
        Trial,
        Private
    }

    enum LicenceStatus {
        None,
        Active,
        Expired,
        Transferred
    }

    /// @notice An offer in five slots: terms a trial needs in the first, the price in the second.
    ///         Durations are capped at 40 bits (34,000 years) and prices at 96 bits (7.9e28 units).
    struct Offer {
        address provider;
        uint40 duration;
        uint32 seats;
        OfferKind kind;
        bool transferable;
        bool closed;
        address token;
        uint96 price;
        bytes32 packageKey;
        bytes32 termsHash;
        bytes32 nameHash;
    }

    /// @notice What the licensee signs (EIP-712). `duration` must equal the offer's: the licence runs
    ///         from the block that includes it, which a signer cannot know in advance. Calls carry
    ///         only the deadline and the signature: the contract rebuilds the rest from the offer,
    ///         the licensee and the pair's nonce, so a signature of other terms does not verify.
    struct LicenceAgreement {
        uint256 offerId;
        bytes32 termsHash;
        address licensee;
        uint32 seats;
        uint64 duration;
        uint256 nonce;
        uint256 deadline;
    }

    /// @notice What a licensee signs (EIP-712) to let `node` open `count` seats of its licence. The
    ///         contract rebuilds it with the caller as the node, so only the node it names can use it.
    struct SeatOpening {
        uint256 licenceId;
        address node;
        uint32 count;
        uint64 nonce;
        uint256 deadline;
    }

    /// @notice A licence as read by clients; seats come from its offer, seatsInUse from its open seats.
    struct LicenceInfo {
        uint256 offerId;
        address licensee;
        uint32 seats;
        uint64 expiresAt;
        LicenceStatus status;
        uint32 seatsInUse;
    }

    // One storage slot per licence: seats are the offer's, expiry fits 40 bits, offer ids 32 bits, and
    // the seats open now 16 bits (offers hold at most 65,535 seats), so opening a seat rewrites a slot
    // the licence already holds.
    struct Licence {
        address licensee;
        uint40 expiresAt;
        uint32 offerId;
        uint16 seatsOpen;
        bool transferred;
    }

    // The seats one node opened under one licence, the nonce of the next SeatOpening for it, and the
    // licence's offer's seats, copied at the node's first opening (a licence id is tied to one offer
    // and offers never change), so later openings read no offer slot.
    struct SeatHolding {
        uint32 open;
        uint64 nonce;
        uint32 seats;
    }

    // Licence ids are below 2**63 so that they fit a signed 64-bit integer, as catalogues store them.
    uint256 private constant _LICENCE_ID_MODULUS = (1 << 63) - 1;

    bytes32 private constant _DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 private constant _NAME_HASH = keccak256("NFV Marketplace LicenseManager");
    bytes32 private constant _VERSION_HASH = keccak256("1");

    /// @notice The most seats an offer may hold (a licence counts its open seats in 16 bits).
    uint32 public constant MAX_SEATS = type(uint16).max;

    /// @notice EIP-712 type hash of `SeatOpening`.
    bytes32 public constant SEAT_OPENING_TYPEHASH =
        keccak256("SeatOpening(uint256 licenceId,address node,uint32 count,uint64 nonce,uint256 deadline)");

    /// @notice EIP-712 type hash of `LicenceAgreement`.
    bytes32 public constant AGREEMENT_TYPEHASH = keccak256(
        "LicenceAgreement(uint256 offerId,bytes32 termsHash,address licensee,uint32 seats,uint64 duration,uint256 nonce,uint256 deadline)"
    );

    /// @notice The PackageRegistry whose packages are licensed here; set once, at construction.
    IPackageRegistry public immutable registry;

    // The EIP-712 domain separator at deployment, used while the chain id is unchanged (after a
    // fork it is computed again); an immutable, so it costs no storage read.
    bytes32 private immutable _cachedDomainSeparator;
    uint256 private immutable _cachedChainId;

    /// @notice Number of offers created; offer ids run from 1 to offerCount.
    uint256 public offerCount;

    mapping(uint256 offerId => Offer) private _offers;
    // Keyed by licenceIdOf(offerId, licensee): an address holds at most one licence per offer.
    mapping(uint256 licenceId => Licence) private _licences;
    // Agreements accepted for a licence id after the one that first filled its slot (renewals, purchases
    // after a lapse or a transfer): a slot that is in use takes nonce 1 + this, an empty one nonce 0. Kept
    // apart so that a first licence writes one slot; 256 bits, so renewals never run out of nonces.
    mapping(uint256 licenceId => uint256) private _laterAgreements;
    mapping(uint256 licenceId => mapping(address node => SeatHolding)) private _holdings;
    // The line key that authorised each provider (zero: none). An authorisation holds only while that key
    // is still the line's: a key rotated out (lost, stolen) leaves no provider behind.
    mapping(bytes32 packageKey => mapping(address provider => address lineKey)) private _authorised;
    mapping(address provider => mapping(address token => uint256)) private _earnings;

    /// @notice The line owner's key authorised or de-authorised a provider for a package of the line.
    event ProviderAuthorised(
        bytes32 indexed digest,
        bytes32 indexed nameHash,
        address indexed provider,
        address publisher,
        bool authorised
    );

    /// @notice A provider created an offer.
    event OfferCreated(
        uint256 indexed offerId,
        bytes32 indexed digest,
        address indexed provider,
        bytes32 nameHash,
        OfferKind kind,
        uint256 price,
        address token,
        uint64 duration,
        uint32 seats,
        bytes32 termsHash,
        bool transferable
    );

    /// @notice An offer stopped selling; its licences are unaffected.
    event OfferClosed(uint256 indexed offerId, address indexed closedBy);

    /// @notice A licence was issued (purchase or trial activation) under a signed agreement. The
    ///         same id is issued again when its licensee buys again after it lapsed.
    event LicenceIssued(
        uint256 indexed licenceId,
        uint256 indexed offerId,
        address indexed licensee,
        uint64 expiresAt,
        bytes32 agreementHash
    );

    /// @notice A licence was paid for again and its expiry extended.
    event LicenceRenewed(
        uint256 indexed licenceId,
        uint256 indexed offerId,
        address indexed licensee,
        uint64 expiresAt,
        bytes32 agreementHash
    );

    /// @notice A licensee handed a licence to another address: the licence `licenceId` ends
    ///         (status Transferred) and continues, with the same expiry, as `toLicenceId` of `to`.
    event LicenceTransferred(
        uint256 indexed licenceId,
        address indexed from,
        address indexed to,
        uint256 offerId,
        uint256 toLicenceId,
        uint64 expiresAt
    );

    /// @notice `node` opened `count` seats of a licence under its licensee's SeatOpening; `inUse` seats
    ///         of the licence are open now.
    event SeatsOpened(uint256 indexed licenceId, address indexed node, uint32 count, uint32 inUse);

    /// @notice `count` seats `node` had opened were closed, by the node or the licensee (`closedBy`).
    event SeatsClosed(
        uint256 indexed licenceId, address indexed node, address closedBy, uint32 count, uint32 inUse
    );

    /// @notice The licensee voided its unused SeatOpenings for `node`; the next must carry `nonce`.
    event SeatOpeningsCancelled(uint256 indexed licenceId, address indexed node, uint64 nonce);

    /// @notice A provider withdrew its balance in one currency (token zero = ether).
    event Withdrawn(address indexed provider, address indexed token, uint256 amount);

    error RegistryNotContract(address registry);
    error ZeroAddress();
    error LineNotClaimed(bytes32 nameHash);
    error PackageRevoked(bytes32 packageKey);
    error NotPublisher(bytes32 nameHash, address caller);
    error NotProvider(bytes32 packageKey, address caller);
    error NotOfferManager(uint256 offerId, address caller);
    error ZeroTermsHash();
    error PriceNotAllowed(OfferKind kind);
    error TokenWithoutPrice(address token);
    error TokenNotContract(address token);
    error DurationRequired(OfferKind kind);
    error DurationNotAllowed(OfferKind kind);
    error SeatsRequired(OfferKind kind);
    error SeatsNotAllowed(OfferKind kind);
    error TransferNotAllowed(OfferKind kind);
    error OfferNotFound(uint256 offerId);
    error TooManyOffers();
    error OfferNotOpen(uint256 offerId);
    error WrongOfferKind(uint256 offerId, OfferKind kind);
    error AgreementExpired(uint256 deadline, uint256 timestamp);
    /// @notice No valid signature by `licensee` of the agreement for this offer's terms with nonce `nonce`.
    error AgreementNotSigned(uint256 offerId, address licensee, uint256 nonce);
    error WrongPayment(uint256 expected, uint256 sent);
    error TokenAmountMismatch(address token, uint256 expected, uint256 received);
    error AlreadyLicensed(uint256 offerId, address licensee, uint256 licenceId);
    error TrialAlreadyUsed(uint256 offerId, address licensee, uint256 licenceId);
    error LicenceNotFound(uint256 licenceId);
    error NotLicensee(uint256 licenceId, address account);
    error NotRenewable(uint256 licenceId);
    error LicenceIdTaken(uint256 licenceId);
    error NotTransferable(uint256 offerId);
    error LicenceExpired(uint256 licenceId);
    error TooManySeats(uint32 seats, uint32 max);
    error SeatOpeningExpired(uint256 deadline, uint256 timestamp);
    error NoSeatsAsked(uint256 licenceId);
    /// @notice Opening `count` more would exceed the offer's `seats`, `inUse` being open already.
    error NoSeatsFree(uint256 licenceId, uint32 seats, uint32 inUse, uint32 count);
    /// @notice No valid signature by the licensee of the SeatOpening for this node with nonce `nonce`.
    error SeatsNotAuthorised(uint256 licenceId, address node, uint64 nonce);
    error NotSeatManager(uint256 licenceId, address node, address caller);
    error FewerSeatsOpen(uint256 licenceId, address node, uint32 open, uint32 count);
    /// @notice A licence with open seats (instances running under it) does not transfer.
    error SeatsStillOpen(uint256 licenceId, uint32 inUse);
    error InvalidRecipient(address to);
    error NothingToWithdraw(address provider, address token);
    error EtherTransferFailed(address to, uint256 amount);

    /// @param registry_ The PackageRegistry holding the packages to license.
    constructor(IPackageRegistry registry_) {
        if (address(registry_).code.length == 0) revert RegistryNotContract(address(registry_));
        registry = registry_;
        _cachedChainId = block.chainid;
        _cachedDomainSeparator = _buildDomainSeparator();
    }

    // ------------------------------------------------------------------ providers

    /// @notice Let `provider` create offers for the package (`digest`, `nameHash`), or stop it from
    ///         creating new ones. Only the current key of the line's owner may call this. Existing
    ///         offers are not closed by it.
    /// @param digest The package digest.
    /// @param nameHash The package's line, keccak256 of "vendor/name".
    /// @param provider The address to authorise or de-authorise.
    /// @param authorised True to authorise, false to withdraw the authorisation.
    function authoriseProvider(bytes32 digest, bytes32 nameHash, address provider, bool authorised) external {
        // The line owner's current key, not the key that registered: a rotated-out key has no rights.
        address key = registry.lineKey(nameHash);
        if (key == address(0)) revert LineNotClaimed(nameHash);
        if (key != msg.sender) revert NotPublisher(nameHash, msg.sender);
        if (provider == address(0)) revert ZeroAddress();
        _authorised[packageKeyOf(digest, nameHash)][provider] = authorised ? key : address(0);
        emit ProviderAuthorised(digest, nameHash, provider, msg.sender, authorised);
    }

    /// @notice Whether `account` may create offers for the package (`digest`, `nameHash`) now.
    /// @return True for the line owner's current key and the addresses it authorised, unless revoked.
    function isProvider(bytes32 digest, bytes32 nameHash, address account) external view returns (bool) {
        bytes32 key = packageKeyOf(digest, nameHash);
        if (registry.statusOf(key) == IPackageRegistry.Status.Revoked) return false;
        address lineKey = registry.lineKey(nameHash);
        return lineKey != address(0) && (lineKey == account || _authorised[key][account] == lineKey);
    }

    /// @notice The key of a package in a line, as PackageRegistry.packageKey computes it.
    function packageKeyOf(bytes32 digest, bytes32 nameHash) public pure returns (bytes32) {
        return keccak256(abi.encode(digest, nameHash));
    }

    // ------------------------------------------------------------------ offers

    /// @notice Offer a non-revoked package under a licence kind. Callers: the current key of the
    ///         line's owner, or a provider it authorised for the package.
    /// @param digest The package digest.
    /// @param nameHash The package's line, keccak256 of "vendor/name" as its main descriptor names it.
    /// @param kind Public (free, unlimited), Trial (free, seats and duration required) or Private.
    /// @param price Price in wei, or in token units when `token` is set; zero for Public and Trial.
    /// @param token ERC-20 token to pay in, or zero for ether (zero when the offer is free).
    /// @param duration Licence lifetime in seconds, zero for no expiry (required for Trial).
    /// @param seats Maximum concurrent instances; zero (unlimited) only for Public.
    /// @param termsHash Hash of the off-chain policy document the licensee agrees to.
    /// @param transferable Whether licensees may hand licences on (Private offers only).
    /// @return offerId The new offer's id.
    function createOffer(
        bytes32 digest,
        bytes32 nameHash,
        OfferKind kind,
        uint256 price,
        address token,
        uint64 duration,
        uint32 seats,
        bytes32 termsHash,
        bool transferable
    ) external returns (uint256 offerId) {
        bytes32 key = packageKeyOf(digest, nameHash);
        _requireLive(key);
        address lineKey = registry.lineKey(nameHash);
        if (lineKey == address(0)) revert LineNotClaimed(nameHash);
        if (lineKey != msg.sender && _authorised[key][msg.sender] != lineKey) revert NotProvider(key, msg.sender);
        if (termsHash == bytes32(0)) revert ZeroTermsHash();
        _checkTerms(kind, price, token, duration, seats, transferable);
        offerId = ++offerCount;
        // Licences keep their offer id in 32 bits.
        if (offerId > type(uint32).max) revert TooManyOffers();
        _offers[offerId] = Offer({
            provider: msg.sender,
            duration: SafeCast.toUint40(duration),
            seats: seats,
            kind: kind,
            transferable: transferable,
            closed: false,
            token: token,
            price: SafeCast.toUint96(price),
            packageKey: key,
            termsHash: termsHash,
            nameHash: nameHash
        });
        emit OfferCreated(offerId, digest, msg.sender, nameHash, kind, price, token, duration, seats, termsHash, transferable);
    }

    /// @notice Stop selling an offer. Licences already issued under it stay valid. Callers: the
    ///         offer's provider or the current key of the package's line owner.
    /// @param offerId The offer to close.
    function closeOffer(uint256 offerId) external {
        Offer storage offer_ = _existingOffer(offerId);
        if (msg.sender != offer_.provider && msg.sender != registry.lineKey(offer_.nameHash)) {
            revert NotOfferManager(offerId, msg.sender);
        }
        if (offer_.closed) revert OfferNotOpen(offerId);
        offer_.closed = true;
        emit OfferClosed(offerId, msg.sender);
    }

    /// @notice An offer; a zero provider means no such offer.
    /// @param offerId The offer asked about.
    /// @return The offer's terms and whether it is closed.
    function offer(uint256 offerId) external view returns (Offer memory) {
        return _offers[offerId];
    }

    // ------------------------------------------------------------------ licences

    /// @notice Buy a licence under a Private offer, paying exactly its price: `msg.value` for ether,
    ///         or an ERC-20 transfer from the caller (approve this contract first). The caller is the
    ///         licensee: it signed the agreement and must not hold a valid licence under the offer.
    /// @param offerId The Private offer to buy.
    /// @param deadline The agreement's deadline; the other fields are the offer's and the caller's.
    /// @param signature The caller's EIP-712 signature of `agreementFor(offerId, msg.sender, deadline)`.
    /// @return licenceId The licence's id, `licenceIdOf(offerId, msg.sender)`.
    function purchase(uint256 offerId, uint256 deadline, bytes calldata signature)
        external
        payable
        nonReentrant
        returns (uint256 licenceId)
    {
        Offer storage offer_ = _sellableOffer(offerId, OfferKind.Private);
        // Only the licensee decides when a paid licence starts, and pays from its own account.
        licenceId = licenceIdOf(offerId, msg.sender);
        Licence memory held = _ownSlot(licenceId, msg.sender);
        if (!held.transferred && _isValid(held)) revert AlreadyLicensed(offerId, msg.sender, licenceId);
        uint256 nonce = _useNonce(licenceId, held.licensee);
        bytes32 signedHash = _acceptAgreement(offerId, offer_, msg.sender, nonce, deadline, signature);
        _issue(licenceId, offerId, offer_, msg.sender, signedHash);
        _collect(offer_);
    }

    /// @notice Activate a Trial offer for the licensee who signed its agreement; once per address
    ///         per offer. Anyone may submit it (the marketplace relays trials activated on first use).
    /// @dev    The package's registry status is not read here: a trial costs nothing, so there is no
    ///         sale to stop, and whether a package may be used (not revoked) is the registry's to
    ///         answer at use, as for every licence (see `hasValidLicence`). Purchases and renewals,
    ///         which take payment, refuse revoked packages.
    /// @param offerId The Trial offer.
    /// @param licensee The address the trial is for; it signed the agreement.
    /// @param deadline The agreement's deadline; the other fields are the offer's and the licensee's.
    /// @param signature The licensee's EIP-712 signature of `agreementFor(offerId, licensee, deadline)`.
    /// @return licenceId The licence's id, `licenceIdOf(offerId, licensee)`.
    function activateTrial(uint256 offerId, address licensee, uint256 deadline, bytes calldata signature)
        external
        returns (uint256 licenceId)
    {
        Offer storage offer_ = _openOffer(offerId, OfferKind.Trial);
        licenceId = licenceIdOf(offerId, licensee);
        Licence memory held = _ownSlot(licenceId, licensee);
        // Trials are not transferable, so a used slot means this address activated the trial before.
        if (held.licensee != address(0)) revert TrialAlreadyUsed(offerId, licensee, licenceId);
        bytes32 signedHash = _acceptAgreement(offerId, offer_, licensee, 0, deadline, signature);
        _issue(licenceId, offerId, offer_, licensee, signedHash);
    }

    /// @notice Pay again for an expiring Private licence and extend it by the offer's duration,
    ///         from its current expiry or from now if it has lapsed. Caller: the licensee, who signed
    ///         the agreement; the offer must still be open. Its open seats stay open and counted.
    /// @param licenceId The licence to renew (the caller's licence under its offer).
    /// @param deadline The agreement's deadline; the other fields are the offer's and the caller's.
    /// @param signature The caller's EIP-712 signature of `agreementFor(offerId, msg.sender, deadline)`.
    /// @return expiresAt The new expiry (seconds since the epoch).
    function renew(uint256 licenceId, uint256 deadline, bytes calldata signature)
        external
        payable
        nonReentrant
        returns (uint64 expiresAt)
    {
        Licence storage licence_ = _existingLicence(licenceId);
        address licensee = licence_.licensee;
        if (msg.sender != licensee || licence_.transferred) revert NotLicensee(licenceId, msg.sender);
        uint256 offerId = licence_.offerId;
        Offer storage offer_ = _sellableOffer(offerId, OfferKind.Private);
        if (offer_.duration == 0) revert NotRenewable(licenceId);
        uint256 nonce = _useNonce(licenceId, licensee);
        bytes32 signedHash = _acceptAgreement(offerId, offer_, licensee, nonce, deadline, signature);
        uint256 from = licence_.expiresAt > block.timestamp ? licence_.expiresAt : block.timestamp;
        expiresAt = SafeCast.toUint40(from + offer_.duration);
        licence_.expiresAt = uint40(expiresAt);
        emit LicenceRenewed(licenceId, offerId, licensee, expiresAt, signedHash);
        _collect(offer_);
    }

    /// @notice Hand a valid licence of a transferable offer to another address. Caller: the licensee.
    ///         Its seats must all be closed first: the instances running under it are the licensee's.
    ///         The recipient must not already hold a valid licence under the same offer. The licence
    ///         continues as the recipient's id (`licenceIdOf(offerId, to)`), with the same expiry.
    /// @param licenceId The licence to transfer.
    /// @param to The new licensee.
    /// @return toLicenceId The licence's id from now on.
    function transferLicence(uint256 licenceId, address to) external returns (uint256 toLicenceId) {
        Licence storage licence_ = _existingLicence(licenceId);
        address from = licence_.licensee;
        if (msg.sender != from || licence_.transferred) revert NotLicensee(licenceId, msg.sender);
        uint256 offerId = licence_.offerId;
        if (!_offers[offerId].transferable) revert NotTransferable(offerId);
        if (to == address(0) || to == from) revert InvalidRecipient(to);
        if (!_isValid(licence_)) revert LicenceExpired(licenceId);
        if (licence_.seatsOpen != 0) revert SeatsStillOpen(licenceId, licence_.seatsOpen);
        toLicenceId = licenceIdOf(offerId, to);
        Licence memory held = _ownSlot(toLicenceId, to);
        if (!held.transferred && _isValid(held)) revert AlreadyLicensed(offerId, to, toLicenceId);
        uint40 expiresAt = licence_.expiresAt;
        licence_.transferred = true;
        // Seats the recipient still holds open under a lapsed licence of this offer stay counted.
        _licences[toLicenceId] = Licence({
            licensee: to,
            expiresAt: expiresAt,
            offerId: uint32(offerId),
            seatsOpen: held.seatsOpen,
            transferred: false
        });
        emit LicenceTransferred(licenceId, from, to, offerId, toLicenceId, expiresAt);
    }

    // ------------------------------------------------------------------ seats

    /// @notice Open `count` seats of a licence for instances or units the caller (a marketplace node)
    ///         starts. The licensee authorises it by signing `SeatOpening(licenceId, caller, count,
    ///         nonce, deadline)`; the nonce is the caller's next for the licence (`seatHolding`), so a
    ///         signature opens seats once, for the node it names. Refused when the licence is lapsed or
    ///         transferred, or when the open seats would exceed the offer's.
    /// @param licenceId The licence whose seats to open.
    /// @param count How many seats (one per instance or unit).
    /// @param deadline The last second the licensee's signature may be used.
    /// @param signature The licensee's EIP-712 signature (ERC-1271 for contract wallets).
    /// @return inUse The licence's open seats after this.
    function openSeats(uint256 licenceId, uint32 count, uint256 deadline, bytes calldata signature)
        external
        returns (uint32 inUse)
    {
        if (block.timestamp > deadline) revert SeatOpeningExpired(deadline, block.timestamp);
        if (count == 0) revert NoSeatsAsked(licenceId);
        Licence storage licence_ = _licences[licenceId];
        Licence memory record = licence_;
        if (record.licensee == address(0)) revert LicenceNotFound(licenceId);
        if (record.transferred) revert NotLicensee(licenceId, record.licensee);
        if (!_isValid(record)) revert LicenceExpired(licenceId);
        SeatHolding storage stored = _holdings[licenceId][msg.sender];
        SeatHolding memory holding = stored;
        uint32 seats = holding.seats == 0 ? _offers[record.offerId].seats : holding.seats;
        uint256 total = uint256(record.seatsOpen) + count;
        if (total > seats) revert NoSeatsFree(licenceId, seats, record.seatsOpen, count);
        bytes32 hash = _seatOpeningHash(licenceId, msg.sender, count, holding.nonce, deadline);
        if (
            !_signedBy(record.licensee, hash, signature)
                && !SignatureChecker.isValidERC1271SignatureNow(record.licensee, hash, signature)
        ) revert SeatsNotAuthorised(licenceId, msg.sender, holding.nonce);
        stored.open = holding.open + count;
        stored.nonce = holding.nonce + 1;
        stored.seats = seats;
        inUse = uint32(total); // at most the offer's seats, so at most MAX_SEATS
        licence_.seatsOpen = uint16(total);
        emit SeatsOpened(licenceId, msg.sender, count, inUse);
    }

    /// @notice Close `count` of the seats `node` opened under a licence. Callers: that node, or the
    ///         licensee (who may close any node's seats, for instance of a node that went away).
    /// @param licenceId The licence.
    /// @param node The node whose seats to close.
    /// @param count How many.
    /// @return inUse The licence's open seats after this.
    function closeSeats(uint256 licenceId, address node, uint32 count) external returns (uint32 inUse) {
        Licence storage licence_ = _existingLicence(licenceId);
        if (msg.sender != node && msg.sender != licence_.licensee) revert NotSeatManager(licenceId, node, msg.sender);
        SeatHolding storage holding = _holdings[licenceId][node];
        uint32 open = holding.open;
        if (count == 0 || count > open) revert FewerSeatsOpen(licenceId, node, open, count);
        holding.open = open - count;
        // The licence's count is the sum of its nodes' counts, so it holds at least `count`.
        inUse = licence_.seatsOpen - count;
        licence_.seatsOpen = uint16(inUse);
        emit SeatsClosed(licenceId, node, msg.sender, count, inUse);
    }

    /// @notice Void the SeatOpenings the licensee signed for `node` and that were not used yet (the
    ///         node's nonce for the licence moves on). Caller: the licensee.
    /// @param licenceId The licence.
    /// @param node The node whose unused openings to void.
    function cancelSeatOpenings(uint256 licenceId, address node) external {
        Licence storage licence_ = _existingLicence(licenceId);
        if (msg.sender != licence_.licensee) revert NotLicensee(licenceId, msg.sender);
        SeatHolding storage holding = _holdings[licenceId][node];
        uint64 nonce = holding.nonce + 1;
        holding.nonce = nonce;
        emit SeatOpeningsCancelled(licenceId, node, nonce);
    }

    /// @notice The seats of a licence open now, across all nodes.
    /// @param licenceId The licence asked about.
    /// @return The number of open seats.
    function seatsInUse(uint256 licenceId) external view returns (uint32) {
        return _licences[licenceId].seatsOpen;
    }

    /// @notice The seats `node` holds open under a licence, and the nonce of its next SeatOpening.
    /// @param licenceId The licence asked about.
    /// @param node The node asked about.
    /// @return open The seats it holds open.
    /// @return nonce The nonce the next SeatOpening for this node must carry.
    function seatHolding(uint256 licenceId, address node) external view returns (uint32 open, uint64 nonce) {
        SeatHolding storage holding = _holdings[licenceId][node];
        return (holding.open, holding.nonce);
    }

    /// @notice The EIP-712 digest the licensee signs to let `opening.node` open seats.
    /// @param opening The seat opening.
    /// @return The digest.
    function seatOpeningHash(SeatOpening calldata opening) external view returns (bytes32) {
        return _seatOpeningHash(opening.licenceId, opening.node, opening.count, opening.nonce, opening.deadline);
    }

    /// @notice The id of the licence `licensee` holds, held or may hold under an offer: a hash of the
    ///         pair, below 2**63 and never 0.
    /// @param offerId The offer.
    /// @param licensee The licensee.
    /// @return The licence id.
    function licenceIdOf(uint256 offerId, address licensee) public pure returns (uint256) {
        return (uint256(keccak256(abi.encode(offerId, licensee))) % _LICENCE_ID_MODULUS) + 1;
    }

    /// @notice A licence; status None means no such licence.
    /// @param licenceId The licence asked about.
    /// @return The licence with its offer's seat cap and its status now.
    function licence(uint256 licenceId) external view returns (LicenceInfo memory) {
        Licence memory record = _licences[licenceId];
        if (record.licensee == address(0)) return LicenceInfo(0, address(0), 0, 0, LicenceStatus.None, 0);
        LicenceStatus status = LicenceStatus.Active;
        if (record.transferred) status = LicenceStatus.Transferred;
        else if (!_isValid(record)) status = LicenceStatus.Expired;
        return LicenceInfo({
            offerId: record.offerId,
            licensee: record.licensee,
            seats: _offers[record.offerId].seats,
            expiresAt: record.expiresAt,
            status: status,
            seatsInUse: record.seatsOpen
        });
    }

    /// @notice Whether a licence exists, is still its licensee's and has not expired.
    /// @param licenceId The licence asked about.
    /// @return True while the licence is valid.
    function isValid(uint256 licenceId) external view returns (bool) {
        Licence memory record = _licences[licenceId];
        return !record.transferred && _isValid(record);
    }

    /// @notice The licence `licensee` holds under an offer (valid or lapsed), or 0.
    /// @param offerId The offer asked about.
    /// @param licensee The holder asked about.
    /// @return The licence id, 0 when the address never held one or transferred it away.
    function licenceFor(uint256 offerId, address licensee) external view returns (uint256) {
        uint256 licenceId = licenceIdOf(offerId, licensee);
        Licence storage record = _licences[licenceId];
        return record.licensee == licensee && record.offerId == offerId && !record.transferred ? licenceId : 0;
    }

    /// @notice The nonce the next agreement of `licensee` under an offer must carry.
    /// @param offerId The offer.
    /// @param licensee The licensee.
    /// @return The number of agreements accepted for the pair so far.
    function agreementNonce(uint256 offerId, address licensee) external view returns (uint256) {
        uint256 licenceId = licenceIdOf(offerId, licensee);
        return _licences[licenceId].licensee == licensee ? 1 + _laterAgreements[licenceId] : 0;
    }

    /// @notice Whether `account` may use the package under an offer now: always for an open Public
    ///         offer, else when it holds a valid licence under it. The package's own status (revoked
    ///         or not) is the registry's to answer, not this contract's.
    /// @param offerId The offer asked about.
    /// @param account The would-be user.
    /// @return True when usage is licensed.
    function hasValidLicence(uint256 offerId, address account) external view returns (bool) {
        Offer storage offer_ = _offers[offerId];
        if (offer_.provider == address(0)) return false;
        if (offer_.kind == OfferKind.Public) return !offer_.closed;
        Licence memory record = _licences[licenceIdOf(offerId, account)];
        return record.licensee == account && record.offerId == offerId && !record.transferred && _isValid(record);
    }

    /// @notice The EIP-712 digest the licensee signs for `agreement`.
    /// @param agreement The licence agreement.
    /// @return The digest (as emitted in LicenceIssued and LicenceRenewed).
    function agreementHash(LicenceAgreement calldata agreement) external view returns (bytes32) {
        return _agreementHash(
            agreement.offerId,
            agreement.termsHash,
            agreement.licensee,
            agreement.seats,
            agreement.duration,
            agreement.nonce,
            agreement.deadline
        );
    }

    /// @notice The agreement `licensee` must sign to take a licence under an offer now: the offer's
    ///         terms hash, seats and duration, and the pair's next nonce. `purchase`, `activateTrial`
    ///         and `renew` take only its deadline and signature and rebuild the rest from the chain.
    /// @param offerId The offer.
    /// @param licensee The would-be licensee.
    /// @param deadline The last second the signature may be used.
    /// @return The agreement (zero terms when the offer does not exist).
    function agreementFor(uint256 offerId, address licensee, uint256 deadline)
        external
        view
        returns (LicenceAgreement memory)
    {
        Offer storage offer_ = _offers[offerId];
        uint256 licenceId = licenceIdOf(offerId, licensee);
        return LicenceAgreement({
            offerId: offerId,
            termsHash: offer_.termsHash,
            licensee: licensee,
            seats: offer_.seats,
            duration: offer_.duration,
            nonce: _licences[licenceId].licensee == licensee ? 1 + _laterAgreements[licenceId] : 0,
            deadline: deadline
        });
    }

    /// @notice The EIP-712 domain separator: it binds agreements to this chain and this contract.
    /// @return The separator.
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparator();
    }

    /// @inheritdoc IERC5267
    function eip712Domain()
        external
        view
        returns (
            bytes1 fields,
            string memory name,
            string memory version,
            uint256 chainId,
            address verifyingContract,
            bytes32 salt,
            uint256[] memory extensions
        )
    {
        return (
            hex"0f", // name, version, chainId, verifyingContract
            "NFV Marketplace LicenseManager",
            "1",
            block.chainid,
            address(this),
            bytes32(0),
            new uint256[](0)
        );
    }

    // ------------------------------------------------------------------ earnings

    /// @notice Withdraw the caller's whole balance in one currency. Callers: anyone with a balance.
    /// @param token The ERC-20 token, or zero for ether.
    /// @return amount The amount sent to the caller.
    function withdraw(address token) external nonReentrant returns (uint256 amount) {
        amount = _earnings[msg.sender][token];
        if (amount == 0) revert NothingToWithdraw(msg.sender, token);
        _earnings[msg.sender][token] = 0;
        emit Withdrawn(msg.sender, token, amount);
        if (token == address(0)) {
            (bool sent,) = payable(msg.sender).call{value: amount}("");
            if (!sent) revert EtherTransferFailed(msg.sender, amount);
        } else {
            IERC20(token).safeTransfer(msg.sender, amount);
        }
    }

    /// @notice A provider's withdrawable balance in one currency. Every purchase and renewal credits
    ///         its offer's provider with the offer's price (LicenceIssued and LicenceRenewed say which).
    /// @param provider The provider asked about.
    /// @param token The ERC-20 token, or zero for ether.
    /// @return The balance.
    function earnings(address provider, address token) external view returns (uint256) {
        return _earnings[provider][token];
    }

    // ------------------------------------------------------------------ internals

    function _requireLive(bytes32 packageKey) private view {
        if (registry.statusOf(packageKey) == IPackageRegistry.Status.Revoked) revert PackageRevoked(packageKey);
    }

    function _checkTerms(
        OfferKind kind,
        uint256 price,
        address token,
        uint64 duration,
        uint32 seats,
        bool transferable
    ) private view {
        if (price == 0 && token != address(0)) revert TokenWithoutPrice(token);
        if (token != address(0) && token.code.length == 0) revert TokenNotContract(token);
        if (kind == OfferKind.Public) {
            if (price != 0) revert PriceNotAllowed(kind);
            if (duration != 0) revert DurationNotAllowed(kind);
            if (seats != 0) revert SeatsNotAllowed(kind);
        } else if (kind == OfferKind.Trial) {
            if (price != 0) revert PriceNotAllowed(kind);
            if (duration == 0) revert DurationRequired(kind);
        }
        if (kind != OfferKind.Public && seats == 0) revert SeatsRequired(kind);
        if (seats > MAX_SEATS) revert TooManySeats(seats, MAX_SEATS);
        // Public needs no licence to hand on, and a transferable trial would reset "once per address".
        if (transferable && kind != OfferKind.Private) revert TransferNotAllowed(kind);
    }

    function _existingOffer(uint256 offerId) private view returns (Offer storage offer_) {
        offer_ = _offers[offerId];
        if (offer_.provider == address(0)) revert OfferNotFound(offerId);
    }

    function _sellableOffer(uint256 offerId, OfferKind kind) private view returns (Offer storage offer_) {
        offer_ = _openOffer(offerId, kind);
        _requireLive(offer_.packageKey);
    }

    function _openOffer(uint256 offerId, OfferKind kind) private view returns (Offer storage offer_) {
        offer_ = _existingOffer(offerId);
        if (offer_.kind != kind) revert WrongOfferKind(offerId, offer_.kind);
        if (offer_.closed) revert OfferNotOpen(offerId);
    }

    function _existingLicence(uint256 licenceId) private view returns (Licence storage licence_) {
        licence_ = _licences[licenceId];
        if (licence_.licensee == address(0)) revert LicenceNotFound(licenceId);
    }

    // The slot of licenceIdOf(offerId, licensee): empty, or that licensee's. Another pair hashing to
    // the same 63-bit id would need about 2**63 tries to find, and is refused rather than overwritten.
    function _ownSlot(uint256 licenceId, address licensee) private view returns (Licence memory record) {
        record = _licences[licenceId];
        if (record.licensee != address(0) && record.licensee != licensee) revert LicenceIdTaken(licenceId);
    }

    // The nonce an agreement for the slot `licenceId` carries now, marked used: 0 for an empty slot,
    // else 1 + the agreements accepted after the one that filled it.
    function _useNonce(uint256 licenceId, address holder) private returns (uint256 nonce) {
        if (holder == address(0)) return 0;
        nonce = 1 + _laterAgreements[licenceId];
        _laterAgreements[licenceId] = nonce;
    }

    function _isValid(Licence memory record) private view returns (bool) {
        return record.licensee != address(0) && (record.expiresAt == 0 || block.timestamp < record.expiresAt);
    }

    function _domainSeparator() private view returns (bytes32) {
        return block.chainid == _cachedChainId ? _cachedDomainSeparator : _buildDomainSeparator();
    }

    function _buildDomainSeparator() private view returns (bytes32) {
        return keccak256(abi.encode(_DOMAIN_TYPEHASH, _NAME_HASH, _VERSION_HASH, block.chainid, address(this)));
    }

    function _agreementHash(
        uint256 offerId,
        bytes32 termsHash,
        address licensee,
        uint32 seats,
        uint64 duration,
        uint256 nonce,
        uint256 deadline
    ) private view returns (bytes32) {
        return MessageHashUtils.toTypedDataHash(
            _domainSeparator(),
            keccak256(abi.encode(AGREEMENT_TYPEHASH, offerId, termsHash, licensee, seats, duration, nonce, deadline))
        );
    }

    function _seatOpeningHash(uint256 licenceId, address node, uint32 count, uint64 nonce, uint256 deadline)
        private
        view
        returns (bytes32)
    {
        return MessageHashUtils.toTypedDataHash(
            _domainSeparator(), keccak256(abi.encode(SEAT_OPENING_TYPEHASH, licenceId, node, count, nonce, deadline))
        );
    }

    // The licensee's agreement is rebuilt from the chain: the offer's terms hash, seats and duration,
    // the pair's nonce (_useNonce) and the given deadline. A signature over anything else
    // (other terms, a used nonce, another offer, chain or contract) does not verify.
    function _acceptAgreement(
        uint256 offerId,
        Offer storage offer_,
        address licensee,
        uint256 nonce,
        uint256 deadline,
        bytes calldata signature
    ) private view returns (bytes32 hash) {
        if (block.timestamp > deadline) revert AgreementExpired(deadline, block.timestamp);
        hash = _agreementHash(offerId, offer_.termsHash, licensee, offer_.seats, offer_.duration, nonce, deadline);
        // ecrecover first, read straight from calldata, then ERC-1271 for contract wallets:
        // SignatureChecker.isValidSignatureNow would first read the licensee's code size, a cold
        // account access (2,600 gas) in a relayed trial.
        if (!_signedBy(licensee, hash, signature) && !SignatureChecker.isValidERC1271SignatureNow(licensee, hash, signature)) {
            revert AgreementNotSigned(offerId, licensee, nonce);
        }
    }

    // Whether `signature` is a 65-byte ECDSA signature of `hash` by `signer` (ECDSA.tryRecover's
    // checks: low s, v of 27 or 28), without copying it to memory.
    function _signedBy(address signer, bytes32 hash, bytes calldata signature) private pure returns (bool) {
        if (signature.length != 65) return false;
        bytes32 r;
        bytes32 s;
        uint8 v;
        assembly ("memory-safe") {
            r := calldataload(signature.offset)
            s := calldataload(add(signature.offset, 0x20))
            v := byte(0, calldataload(add(signature.offset, 0x40)))
        }
        (address recovered, ECDSA.RecoverError err, ) = ECDSA.tryRecover(hash, v, r, s);
        return err == ECDSA.RecoverError.NoError && recovered == signer;
    }

    // Writes the licence's fields but its open seats: seats still open under a lapsed licence of the
    // slot stay counted when it is bought again.
    function _issue(
        uint256 licenceId,
        uint256 offerId,
        Offer storage offer_,
        address licensee,
        bytes32 agreementHash_
    ) private {
        uint40 duration = offer_.duration;
        uint40 expiresAt = duration == 0 ? 0 : SafeCast.toUint40(block.timestamp + duration);
        Licence storage licence_ = _licences[licenceId];
        licence_.licensee = licensee;
        licence_.expiresAt = expiresAt;
        licence_.offerId = uint32(offerId);
        licence_.transferred = false;
        emit LicenceIssued(licenceId, offerId, licensee, expiresAt, agreementHash_);
    }

    // Takes exactly the offer's price from the caller and credits the provider. Effects come before
    // the token call, and the received amount is measured so a fee-charging token cannot leave
    // provider balances larger than what this contract holds.
    function _collect(Offer storage offer_) private {
        uint256 price = offer_.price;
        address token = offer_.token;
        uint256 dueInEther = token == address(0) ? price : 0;
        if (msg.value != dueInEther) revert WrongPayment(dueInEther, msg.value);
        if (price == 0) return;
        _earnings[offer_.provider][token] += price;
        if (token != address(0)) {
            IERC20 erc20 = IERC20(token);
            uint256 before = erc20.balanceOf(address(this));
            erc20.safeTransferFrom(msg.sender, address(this), price);
            uint256 received = erc20.balanceOf(address(this)) - before;
            if (received != price) revert TokenAmountMismatch(token, price, received);
        }
    }
}
