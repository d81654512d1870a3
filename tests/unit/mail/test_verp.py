"""Per-notice return paths: the notice is read back from an authentic address only."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from service.notify.verp import notice_of, return_path
from tests.conftest import make_settings

VERP = {"verp_domain": "bounces.hotline.example", "verp_secret": "s3cret"}


def test_a_return_path_names_its_notice_and_reads_back() -> None:
    settings = make_settings("postgresql:///x", **VERP)
    address = return_path(settings, 4711)
    assert address.startswith("bounces+4711.") and address.endswith("@bounces.hotline.example")
    assert notice_of(settings, ["someone@else.example", address]) == 4711
    assert notice_of(settings, [f"<{address.upper()}>"]) == 4711  # MTAs may change the case


def test_a_forged_or_foreign_return_path_is_refused() -> None:
    settings = make_settings("postgresql:///x", **VERP)
    address = return_path(settings, 4711)
    local, _, domain = address.partition("@")
    forged = local.replace("4711", "4712") + "@" + domain
    other_key = return_path(make_settings("postgresql:///x", **(VERP | {"verp_secret": "x"})), 4711)
    assert notice_of(settings, [forged, other_key, local + "@elsewhere.example"]) is None


def test_without_a_verp_domain_notices_go_out_from_mail_from() -> None:
    settings = make_settings("postgresql:///x", mail_from="notices@hotline.example")
    assert return_path(settings, 1) == "notices@hotline.example"
    assert notice_of(settings, ["bounces+1.0000000000000000@x.example"]) is None


def test_a_verp_domain_without_a_secret_is_a_configuration_error() -> None:
    with pytest.raises(ValidationError, match="TAKEDOWN_VERP_SECRET"):
        make_settings("postgresql:///x", verp_domain="bounces.hotline.example")
