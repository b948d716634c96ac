"""Django loads an app's models from here: each block keeps its own models module."""

from marketplace.accounts.models import ApiToken, SignInNonce
from marketplace.contract_manager.models import ProvenanceEntry
from marketplace.licensing.models import InstanceState, LicencePolicy, NsInstance, SignedAgreement
from marketplace.repository.models import (
    LineClaimRequest,
    MetadataChange,
    NetworkService,
    Package,
    PackageFile,
    RegistrationRequest,
    VerificationRecord,
    Vnf,
)

__all__ = [
    "ApiToken",
    "InstanceState",
    "LicencePolicy",
    "LineClaimRequest",
    "MetadataChange",
    "NetworkService",
    "NsInstance",
    "Package",
    "PackageFile",
    "ProvenanceEntry",
    "RegistrationRequest",
    "SignInNonce",
    "SignedAgreement",
    "VerificationRecord",
    "Vnf",
]
