"""Portal forms: parse and check input; the services do the work."""

from __future__ import annotations

from typing import Any

from django import forms

from marketplace.repository import selectors


class SearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=200, label="Search")
    kind = forms.ChoiceField(required=False, choices=[("", "VNFs and NSs"), ("vnf", "VNF"), ("ns", "NS")])
    format = forms.ChoiceField(
        required=False, choices=[("", "Any format"), ("etsi", "ETSI SOL004"), ("osm", "OSM"), ("5gtango", "5GTANGO")]
    )
    vendor = forms.CharField(required=False, max_length=200)
    tag = forms.CharField(required=False, max_length=64)
    min_vcpus = forms.IntegerField(required=False, min_value=0, label="Min vCPUs")
    max_vcpus = forms.IntegerField(required=False, min_value=0, label="Max vCPUs")
    min_memory_mb = forms.IntegerField(required=False, min_value=0, label="Min memory (MB)")
    max_memory_mb = forms.IntegerField(required=False, min_value=0, label="Max memory (MB)")
    registered = forms.ChoiceField(
        required=False,
        label="On chain",
        choices=[("", "Registered or not"), ("yes", "Registered on chain"), ("no", "Not registered")],
    )
    deprecated = forms.ChoiceField(
        required=False,
        label="Deprecated",
        choices=[("", "Include deprecated"), ("hide", "Hide deprecated"), ("only", "Only deprecated")],
    )
    all_versions = forms.BooleanField(required=False, label="All versions")
    sort = forms.ChoiceField(
        required=False,
        choices=[
            ("-created", "Newest"),
            ("created", "Oldest"),
            ("name", "Name A-Z"),
            ("-name", "Name Z-A"),
            ("vendor", "Vendor"),
            ("vcpus", "Fewest vCPUs"),
            ("-vcpus", "Most vCPUs"),
            ("memory", "Least memory"),
            ("-memory", "Most memory"),
        ],
    )
    page = forms.IntegerField(required=False, min_value=1, max_value=10_000)

    # Package states behind the on-chain and deprecated filters: the indexer marks a package
    # "published" once its registration is seen on chain (marketplace.repository.projections).
    _REGISTERED = {"yes": {"published"}, "no": {"uploaded", "validated"}}
    _DEPRECATED = {"hide": {"uploaded", "validated", "published"}, "only": {"deprecated"}}
    _ANY = frozenset({"uploaded", "validated", "published", "deprecated"})

    def has_filters(self) -> bool:
        data = getattr(self, "cleaned_data", {})
        return any(v not in (None, "", False) for k, v in data.items() if k not in ("sort", "page"))

    def query(self) -> selectors.PackageQuery:
        data: dict[str, Any] = {k: v for k, v in self.cleaned_data.items() if v not in (None, "", False)}
        tag = data.pop("tag", None)
        states = set(self._ANY)
        states &= self._REGISTERED.get(data.pop("registered", ""), self._ANY)
        states &= self._DEPRECATED.get(data.pop("deprecated", ""), self._ANY)
        chosen = tuple(sorted(states)) if states != self._ANY else ()
        if not states:
            chosen = ("none",)  # the filters exclude each other: nothing matches
        return selectors.PackageQuery(tags=(tag.lower(),) if tag else (), states=chosen, per_page=20, **data)


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
