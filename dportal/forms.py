"""Portal forms: parse and check input; the services do the work."""

from __future__ import annotations

from typing import Any, get_args

from django import forms
from pydantic import ValidationError

from marketplace.repository import filters, selectors


def _select(label: str, choices: list[tuple[str, str]], allowed: object) -> forms.CharField:
    """A select whose values the shared schema defines; the labels are the portal's."""
    assert {value for value, _ in choices if value} <= set(get_args(allowed)), label
    return forms.CharField(required=False, label=label, widget=forms.Select(choices=choices))


class SearchForm(forms.Form):
    """Renders the catalogue's filters. Which values are valid is PackageFilters' rule
    (marketplace.repository.filters), the same schema that parses the JSON API's search."""

    q = forms.CharField(required=False, label="Search")
    kind = _select("Kind", [("", "VNFs and NSs"), ("vnf", "VNF"), ("ns", "NS")], filters.Kind)
    format = _select(
        "Format", [("", "Any format"), ("etsi", "ETSI SOL004"), ("osm", "OSM"), ("5gtango", "5GTANGO")], filters.Format
    )
    vendor = forms.CharField(required=False)
    tag = forms.CharField(required=False)
    min_vcpus = forms.CharField(required=False, label="Min vCPUs", widget=forms.NumberInput(attrs={"min": 0}))
    max_vcpus = forms.CharField(required=False, label="Max vCPUs", widget=forms.NumberInput(attrs={"min": 0}))
    min_memory_mb = forms.CharField(required=False, label="Min memory (MB)", widget=forms.NumberInput(attrs={"min": 0}))
    max_memory_mb = forms.CharField(required=False, label="Max memory (MB)", widget=forms.NumberInput(attrs={"min": 0}))
    registered = _select(
        "On chain",
        [("", "Registered or not"), ("yes", "Registered on chain"), ("no", "Not registered")],
        filters.Registered,
    )
    deprecated = _select(
        "Deprecated",
        [("", "Include deprecated"), ("hide", "Hide deprecated"), ("only", "Only deprecated")],
        filters.Deprecated,
    )
    licence = _select(
        "Licence",
        [
            ("", "Any licence"),
            ("public", "Public (free)"),
            ("trial", "Trial"),
            ("private", "Private (paid)"),
            ("none", "No offer yet"),
        ],
        filters.Licence,
    )
    max_price_eth = forms.CharField(
        required=False, label="Max price (ETH)", widget=forms.TextInput(attrs={"inputmode": "decimal", "size": 8})
    )
    all_versions = forms.BooleanField(required=False, label="All versions")
    sort = _select(
        "Sort",
        [
            ("-created", "Newest"),
            ("created", "Oldest"),
            ("name", "Name A-Z"),
            ("-name", "Name Z-A"),
            ("vendor", "Vendor"),
            ("vcpus", "Fewest vCPUs"),
            ("-vcpus", "Most vCPUs"),
            ("memory", "Least memory"),
            ("-memory", "Most memory"),
            ("price", "Lowest price"),
            ("-price", "Highest price"),
        ],
        filters.Sort,
    )
    page = forms.CharField(required=False, widget=forms.HiddenInput)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        given: dict[str, Any] = {k: v for k, v in cleaned.items() if v not in (None, "", False)}
        if "tag" in given:
            given["tag"] = [given["tag"]]
        try:
            self.filters = filters.PackageFilters.model_validate(given)
        except ValidationError as exc:
            for name, message in filters.filter_errors(exc).items():
                self.add_error(name if name in self.fields else None, message)
        return cleaned

    def has_filters(self) -> bool:
        return bool(getattr(self, "filters", None)) and self.filters.has_filters()

    def query(self, *, viewer: str | None = None) -> selectors.PackageQuery:
        return self.filters.to_query(viewer=viewer)


class UploadForm(forms.Form):
    package = forms.FileField(
        label="Package archive",
        help_text="ETSI SOL004 CSAR (.zip/.csar), OSM (.tar.gz) or 5GTANGO (.tgo)",
    )


class MetadataForm(forms.Form):
    description = forms.CharField(required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 4}))
    category = forms.CharField(required=False, max_length=64)
    tags = forms.CharField(required=False, max_length=1000, help_text="comma separated, e.g. 5g, core, upf")

    def changes(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["tags"] = [t.strip() for t in data.get("tags", "").split(",") if t.strip()]
        return data


class ScaleForm(forms.Form):
    """My instances: the number of units a running instance should run (each unit holds one licence seat)."""

    units = forms.IntegerField(min_value=1, max_value=1000, label="Units")
