from __future__ import annotations

from django.urls import include, path

from marketplace.api import licences as licence_api
from marketplace.api import packages as apis
from marketplace.api import provenance as provenance_api
from marketplace.api import sol005

api = [
    path("auth/nonce", apis.auth_nonce, name="api-auth-nonce"),
    path("auth/token", apis.auth_token, name="api-auth-token"),
    path("packages", apis.packages, name="api-packages"),
    path("packages/<str:package_id>", apis.package, name="api-package"),
    path("packages/<str:package_id>/deprecate", apis.package_deprecate, name="api-package-deprecate"),
    path("packages/<str:package_id>/versions", apis.package_versions, name="api-package-versions"),
    path("packages/<str:package_id>/history", apis.package_history, name="api-package-history"),
    path("packages/<str:package_id>/verification", apis.package_verification, name="api-package-verification"),
    path("packages/<str:package_id>/files", apis.package_files, name="api-package-files"),
    path("packages/<str:package_id>/files/<path:path>", apis.package_file, name="api-package-file"),
    path("packages/<str:package_id>/content", apis.package_content, name="api-package-content"),
    path("packages/<str:package_id>/registration", apis.package_registration, name="api-package-registration"),
    path("packages/<str:package_id>/proof", apis.package_proof, name="api-package-proof"),
    path("packages/<str:package_id>/verify", apis.package_verify, name="api-package-verify"),
    path("packages/<str:package_id>/offers", licence_api.package_offers, name="api-package-offers"),
    path("offers/<str:offer_id>/policy", licence_api.offer_policy, name="api-offer-policy"),
    path("offers/<str:offer_id>/agreement", licence_api.offer_agreement, name="api-offer-agreement"),
    path("licences/status", licence_api.licence_status, name="api-licence-status"),
    path("licences", licence_api.my_licences, name="api-licences"),
    path("instances", licence_api.instances, name="api-instances"),
    path("instances/<str:instance_id>", licence_api.instance, name="api-instance"),
    path("instances/<str:instance_id>/terminate", licence_api.instance_terminate, name="api-instance-terminate"),
    path("instances/<str:instance_id>/scale", licence_api.instance_scale, name="api-instance-scale"),
    path("instances/<str:instance_id>/verify", licence_api.instance_verify, name="api-instance-verify"),
    path("licences/<str:licence_id>/transfer", licence_api.licence_transfer, name="api-licence-transfer"),
    path("vnfs/<str:vnf_id>", apis.vnf, name="api-vnf"),
    path("vnfs/<str:vnf_id>/descriptor", apis.vnf_descriptor, name="api-vnf-descriptor"),
    path("nss/<str:ns_id>", apis.ns, name="api-ns"),
    path("nss/<str:ns_id>/descriptor", apis.ns_descriptor, name="api-ns-descriptor"),
    path("nss/<str:ns_id>/graph", apis.ns_graph, name="api-ns-graph"),
    path("provenance", provenance_api.provenance_list, name="api-provenance"),
    path("provenance/<str:seq>", provenance_api.provenance_entry, name="api-provenance-entry"),
    path("provenance/<str:seq>/proof", provenance_api.provenance_proof, name="api-provenance-proof"),
]

urlpatterns = [
    path("", include("dportal.urls")),
    path("healthz", apis.healthz, name="healthz"),
    path("api/v1/", include(api)),
    path("api/schema", apis.schema, name="api-schema"),
    # ETSI NFV-SOL 005 reads for orchestrators (VNF package and NSD management).
    path("vnfpkgm/v1/", include(sol005.vnfpkgm_urls)),
    path("nsd/v1/", include(sol005.nsd_urls)),
]
