from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from dportal import views as portal
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

portal_urls = [
    path("", portal.home, name="home"),
    path("signin", portal.signin, name="signin"),
    path("signin/message", portal.signin_message, name="signin-message"),
    path("signin/verify", portal.signin_verify, name="signin-verify"),
    path("signout", portal.signout, name="signout"),
    path("dev-wallet/rpc", portal.dev_wallet_rpc, name="dev-wallet-rpc"),
    path("indexer/progress", portal.indexer_progress, name="indexer-progress"),
    path("packages/", portal.packages, name="packages"),
    path("packages/mine", portal.my_packages, name="my-packages"),
    path("packages/upload", portal.package_upload, name="package-upload"),
    path("packages/<str:package_id>/", portal.package_detail, name="package-detail"),
    path("packages/<str:package_id>/metadata", portal.package_metadata, name="package-metadata"),
    path("packages/<str:package_id>/deprecate", portal.package_deprecate, name="package-deprecate"),
    path("packages/<str:package_id>/registration", portal.package_registration, name="package-registration"),
    path("packages/<str:package_id>/proof", portal.package_proof_fragment, name="package-proof"),
    path("packages/<str:package_id>/verify", portal.package_verify, name="package-verify"),
    path("packages/<str:package_id>/offer", portal.package_offer, name="package-offer"),
    path("offers/<int:offer_id>/agreement", portal.offer_agreement, name="offer-agreement"),
    path("nss/<str:ns_id>/instantiate", portal.ns_instantiate, name="ns-instantiate"),
    path("instances/", portal.my_instances, name="my-instances"),
    path("instances/<str:instance_id>/terminate", portal.instance_terminate, name="instance-terminate"),
    path("instances/<str:instance_id>/scale", portal.instance_scale, name="instance-scale"),
    path("instances/<str:instance_id>/scale/preview", portal.instance_scale_preview, name="instance-scale-preview"),
    path("instances/<str:instance_id>/verify", portal.instance_verify, name="instance-verify"),
    # Licensing (my licences, my offers) and provenance timelines
    path("licences/", portal.my_licences, name="my-licences"),
    path("licences/<int:licence_id>/agreement.json", portal.licence_agreement, name="licence-agreement"),
    path("licences/<int:licence_id>/transfer", portal.licence_transfer, name="licence-transfer"),
    path("licences/<int:licence_id>/provenance", portal.licence_provenance, name="licence-provenance"),
    path("offers/", portal.my_offers, name="my-offers"),
    path("offers/<int:offer_id>/close", portal.offer_close, name="offer-close"),
    path("offers/<int:offer_id>/state", portal.offer_state, name="offer-state"),
    path("packages/<str:package_id>/provenance", portal.package_provenance, name="package-provenance"),
    path("provenance/", portal.provenance, name="provenance"),
    path("vnfs/<str:descriptor_id>/", portal.descriptor_detail, {"kind": "vnf"}, name="vnf-detail"),
    path("nss/<str:descriptor_id>/", portal.descriptor_detail, {"kind": "ns"}, name="ns-detail"),
]

urlpatterns = [
    *portal_urls,
    path("healthz", apis.healthz, name="healthz"),
    path("api/v1/", include(api)),
    path("api/schema", apis.schema, name="api-schema"),
    path("admin/", admin.site.urls),
    # ETSI NFV-SOL 005 reads for orchestrators (VNF package and NSD management).
    path("vnfpkgm/v1/", include(sol005.vnfpkgm_urls)),
    path("nsd/v1/", include(sol005.nsd_urls)),
]
