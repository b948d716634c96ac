"""The portal's sections, as its navigation, breadcrumbs and page titles name them.

One table of sections and their pages, read by the layout (dportal.context), so the navigation,
the breadcrumb trail and the window title cannot drift apart. The sections are the marketplace's
parts: Packages (the NFV Repository), VNFs & NSs (the catalogue of what the packages describe),
Licensing, Operation and Provenance; the home page is the marketplace's status.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest


@dataclass(frozen=True)
class Page:
    route: str  # the URL name
    title: str
    signed_in: bool = False  # listed only for a signed-in visitor


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    pages: tuple[Page, ...]  # the first is the section's landing page
    # Other routes that belong here (an object's page): the section is current on them too.
    routes: frozenset[str] = frozenset()

    @property
    def landing(self) -> Page:
        return self.pages[0]

    def page_of(self, route: str) -> Page | None:
        return next((p for p in self.pages if p.route == route), None)


SECTIONS: tuple[Section, ...] = (
    Section(
        "packages",
        "Packages",
        (
            Page("packages", "Packages"),
            Page("my-packages", "My packages", signed_in=True),
            Page("package-upload", "Upload", signed_in=True),
        ),
        frozenset({"package-detail", "package-provenance"}),
    ),
    Section("catalogue", "VNFs & NSs", (Page("descriptors", "VNFs & NSs"),), frozenset({"vnf-detail", "ns-detail"})),
    Section(
        "licensing",
        "Licensing",
        (Page("my-licences", "My licences", signed_in=True), Page("my-offers", "My offers", signed_in=True)),
        frozenset({"licence-provenance"}),
    ),
    Section("operation", "Operation", (Page("my-instances", "My instances", signed_in=True),)),
    Section("provenance", "Provenance", (Page("provenance", "Provenance"),)),
)


@dataclass(frozen=True)
class Here:
    """Where a request is: its section (None on pages outside every section) and page."""

    sections: tuple[Section, ...]
    section: Section | None
    page: Page | None
    signed_in: bool

    @property
    def subpages(self) -> list[Page]:
        if self.section is None:
            return []
        return [p for p in self.section.pages if self.signed_in or not p.signed_in]

    @property
    def title(self) -> str:
        """The window title's section part: "My licences · Licensing", "Packages"."""
        if self.section is None:
            return self.page.title if self.page else ""
        if self.page is None or self.page.title == self.section.title:
            return self.section.title
        return f"{self.page.title} · {self.section.title}"


def section_of(route: str) -> Section | None:
    for section in SECTIONS:
        if section.page_of(route) is not None or route in section.routes:
            return section
    return None


def here(request: HttpRequest, *, signed_in: bool) -> Here:
    match = getattr(request, "resolver_match", None)
    route = match.url_name if match is not None and match.url_name else ""
    section = section_of(route)
    page = section.page_of(route) if section is not None else None
    return Here(sections=SECTIONS, section=section, page=page, signed_in=signed_in)
