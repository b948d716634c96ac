"""The portal's routes: one view module per section (dportal/views/)."""

from __future__ import annotations

from django.urls import path

from dportal.views import catalogue as catalogue_views
from dportal.views import home as home_views
from dportal.views import licensing as licensing_views
from dportal.views import operation as operation_views
from dportal.views import packages as package_views
from dportal.views import provenance as provenance_views
from dportal.views import signin as signin_views
from dportal.views import tokens as token_views

urlpatterns = [
    path("", home_views.home, name="home"),
    path("signin", signin_views.signin, name="signin"),
    path("signin/message", signin_views.signin_message, name="signin-message"),
    path("signin/verify", signin_views.signin_verify, name="signin-verify"),
    path("signout", signin_views.signout, name="signout"),
    path("account/tokens", token_views.api_tokens, name="api-tokens"),
    path("account/tokens/<str:token_id>/revoke", token_views.api_token_revoke, name="api-token-revoke"),
    path("dev-wallet/rpc", home_views.dev_wallet_rpc, name="dev-wallet-rpc"),
    path("indexer/progress", home_views.indexer_progress, name="indexer-progress"),
    path("packages/", package_views.packages, name="packages"),
    path("packages/mine", package_views.my_packages, name="my-packages"),
    path("packages/upload", package_views.package_upload, name="package-upload"),
    path("packages/<str:package_id>/", package_views.package_detail, name="package-detail"),
    path("packages/<str:package_id>/metadata", package_views.package_metadata, name="package-metadata"),
    path("packages/<str:package_id>/deprecate", package_views.package_deprecate, name="package-deprecate"),
    path("packages/<str:package_id>/registration", package_views.package_registration, name="package-registration"),
    path("packages/<str:package_id>/proof", package_views.package_proof_fragment, name="package-proof"),
    path("packages/<str:package_id>/licences", package_views.package_licences_fragment, name="package-licences"),
    path("packages/<str:package_id>/verify", package_views.package_verify, name="package-verify"),
    path("packages/<str:package_id>/offer", licensing_views.package_offer, name="package-offer"),
    path("offers/<int:offer_id>/agreement", licensing_views.offer_agreement, name="offer-agreement"),
    path("nss/<str:ns_id>/instantiate", operation_views.ns_instantiate, name="ns-instantiate"),
    path("nss/<str:ns_id>/decision", catalogue_views.ns_decision_fragment, name="ns-decision"),
    path("nss/<str:ns_id>/seat-opening", operation_views.ns_seat_opening, name="ns-seat-opening"),
    path("instances/", operation_views.my_instances, name="my-instances"),
    path("instances/<str:instance_id>/terminate", operation_views.instance_terminate, name="instance-terminate"),
    path("instances/<str:instance_id>/scale", operation_views.instance_scale, name="instance-scale"),
    path(
        "instances/<str:instance_id>/seat-opening",
        operation_views.instance_seat_opening,
        name="instance-seat-opening",
    ),
    path(
        "instances/<str:instance_id>/scale/preview",
        operation_views.instance_scale_preview,
        name="instance-scale-preview",
    ),
    path("instances/<str:instance_id>/verify", operation_views.instance_verify, name="instance-verify"),
    # Licensing (my licences, my offers) and provenance timelines
    path("licences/", licensing_views.my_licences, name="my-licences"),
    path("licences/<int:licence_id>/agreement.json", licensing_views.licence_agreement, name="licence-agreement"),
    path("licences/<int:licence_id>/transfer", licensing_views.licence_transfer, name="licence-transfer"),
    path("licences/<int:licence_id>/provenance", provenance_views.licence_provenance, name="licence-provenance"),
    path("offers/", licensing_views.my_offers, name="my-offers"),
    path("offers/<int:offer_id>/close", licensing_views.offer_close, name="offer-close"),
    path("offers/<int:offer_id>/state", licensing_views.offer_state, name="offer-state"),
    path("packages/<str:package_id>/provenance", provenance_views.package_provenance, name="package-provenance"),
    path("provenance/", provenance_views.provenance, name="provenance"),
    path("catalogue/", catalogue_views.descriptors, name="descriptors"),
    path("vnfs/<str:descriptor_id>/", catalogue_views.descriptor_detail, {"kind": "vnf"}, name="vnf-detail"),
    path("nss/<str:descriptor_id>/", catalogue_views.descriptor_detail, {"kind": "ns"}, name="ns-detail"),
]
