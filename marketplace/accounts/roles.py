"""What an address is in the marketplace: uploader, publisher, provider, licensee."""

from __future__ import annotations

from dataclasses import dataclass

from marketplace.repository.models import Package


@dataclass(frozen=True)
class AccountRoles:
    """What one address does in the marketplace; an address may hold several roles."""

    packages: int  # uploaded: a developer
    offers: int  # created as provider
    licences: int  # held: an end-user
    instances: int  # running network service instances

    @property
    def names(self) -> list[str]:
        roles = [("developer", self.packages), ("provider", self.offers), ("end-user", self.licences + self.instances)]
        return [name for name, count in roles if count]


def account_roles(*, address: str, chain_id: int) -> AccountRoles:
    from ledger.models import AcquiredLicence, LicenceOffer
    from marketplace.licensing.models import NsInstance

    return AccountRoles(
        packages=Package.objects.filter(uploader=address).count(),
        offers=LicenceOffer.objects.filter(chain_id=chain_id, provider=address).count(),
        licences=AcquiredLicence.objects.filter(chain_id=chain_id, licensee=address).count(),
        instances=NsInstance.objects.filter(owner=address).exclude(state__in=("terminated", "failed")).count(),
    )
