"""The contact book and partner hotlines over the API (hotline token): what the CLI does,
for the hotline's own tools. Rules win over lookups and are recorded as the source."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal

from aiohttp import web
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from service.usecases import partners, resolve
from service.web.auth import require_role
from service.web.bodies import parse_body
from service.web.jsonout import jsonable
from service.web.keys import POOL
from service.web.openapi import Operation, operation
from service.web.problems import not_found

routes = web.RouteTableDef()

Address = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_lower=True, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
]
Country = Annotated[str, StringConstraints(to_upper=True, pattern=r"^[A-Za-z]{2}$")]
Language = Annotated[str, StringConstraints(to_lower=True, pattern=r"^[A-Za-z]{2}$")]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
_DOMAIN = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))+$")


class ContactRuleIn(BaseModel):
    """One rule: exactly one selector (cidr, asn, domain, hoster) and at least one effect."""

    model_config = ConfigDict(extra="forbid")

    cidr: str | None = None
    asn: int | None = Field(default=None, ge=0, le=4294967295)
    domain: Annotated[str, StringConstraints(to_lower=True, max_length=253)] | None = None
    hoster: Text | None = None
    address: Address | None = None
    language: Language | None = None
    do_not_contact: bool = False
    via_hotline: Country | None = None
    cc: list[Address] = Field(default_factory=list, max_length=10)
    note: Annotated[str, StringConstraints(max_length=500)] | None = None

    @field_validator("cidr")
    @classmethod
    def _network(cls, value: str | None) -> str | None:
        return None if value is None else str(ipaddress.ip_network(value, strict=False))

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str | None) -> str | None:
        if value is not None and not _DOMAIN.fullmatch(value.rstrip(".")):
            raise ValueError("domain must be a DNS name like example.net")
        return value

    @model_validator(mode="after")
    def _shape(self) -> ContactRuleIn:
        selectors = [self.cidr, self.asn, self.domain, self.hoster]
        if sum(s is not None for s in selectors) != 1:
            raise ValueError("give exactly one of cidr, asn, domain, hoster")
        if not (self.address or self.do_not_contact or self.via_hotline or self.cc):
            raise ValueError("a rule needs an effect: address, do_not_contact, via_hotline or cc")
        return self


class HotlineIn(BaseModel):
    """A partner hotline and how notices for its country are routed."""

    model_config = ConfigDict(extra="forbid")

    name: Text
    address: Address | None = None
    language: Language | None = None
    policy: Literal["direct", "hotline", "both", "forward"] = "direct"
    url: str | None = Field(
        default=None,
        max_length=2000,
        pattern=r"^https?://[^\s]+$",
        description="forward: base URL of the partner's Takedown Tracker",
    )
    token: str | None = Field(
        default=None,
        min_length=1,
        max_length=500,
        pattern=r"^[\x21-\x7e]+$",
        description="forward: the scanner token the partner issued to us (never listed)",
    )

    @model_validator(mode="after")
    def _reachable(self) -> HotlineIn:
        if self.policy in ("hotline", "both") and self.address is None:
            raise ValueError("a hotline that receives notices needs an address")
        if self.policy == "forward" and (self.url is None or self.token is None):
            raise ValueError("policy forward needs the partner's url and token")
        return self


class Created(BaseModel):
    id: int


_RULE_ID = {"name": "rule_id", "in": "path", "required": True, "schema": {"type": "integer"}}
_COUNTRY = {"name": "country", "in": "path", "required": True, "schema": {"type": "string"}}
for op in (
    Operation(
        "get", "/api/v1/contacts", "The contact book", roles=("hotline",), responses={200: None}
    ),
    Operation(
        "post",
        "/api/v1/contacts",
        "Add a contact-book rule",
        roles=("hotline",),
        request=ContactRuleIn,
        responses={201: Created, 422: None},
    ),
    Operation(
        "delete",
        "/api/v1/contacts/{rule_id}",
        "Remove a contact-book rule",
        roles=("hotline",),
        responses={204: None, 404: None},
        parameters=(_RULE_ID,),
    ),
    Operation(
        "get",
        "/api/v1/hotlines",
        "Partner hotlines and routing policies",
        roles=("hotline",),
        responses={200: None},
    ),
    Operation(
        "put",
        "/api/v1/hotlines/{country}",
        "Set a country's partner hotline",
        roles=("hotline",),
        request=HotlineIn,
        responses={204: None, 422: None},
        parameters=(_COUNTRY,),
    ),
    Operation(
        "delete",
        "/api/v1/hotlines/{country}",
        "Remove a country's partner hotline",
        roles=("hotline",),
        responses={204: None, 404: None},
        parameters=(_COUNTRY,),
    ),
):
    operation(op)


@routes.get("/api/v1/contacts")
async def list_rules(request: web.Request) -> web.Response:
    await require_role(request, "hotline")
    rules = await resolve.contact_rules(request.app[POOL])
    return web.json_response({"rules": jsonable(rules)})


@routes.post("/api/v1/contacts")
async def add_rule(request: web.Request) -> web.Response:
    token = await require_role(request, "hotline")
    rule = parse_body(ContactRuleIn, await request.read())
    rule_id = await resolve.add_contact_rule(
        request.app[POOL], **rule.model_dump(), created_by=f"hotline:{token.name}"
    )
    return web.json_response({"id": rule_id}, status=201)


@routes.delete("/api/v1/contacts/{rule_id}")
async def remove_rule(request: web.Request) -> web.Response:
    await require_role(request, "hotline")
    rule_id = request.match_info["rule_id"]
    if not rule_id.isdigit() or int(rule_id) >= 2**63:
        raise not_found("contact rule")
    if not await resolve.remove_contact_rule(request.app[POOL], int(rule_id)):
        raise not_found("contact rule")
    return web.Response(status=204)


@routes.get("/api/v1/hotlines")
async def list_hotlines(request: web.Request) -> web.Response:
    await require_role(request, "hotline")
    hotlines = await resolve.hotlines(request.app[POOL])
    return web.json_response({"hotlines": jsonable(hotlines)})


@routes.put("/api/v1/hotlines/{country}")
async def set_hotline(request: web.Request) -> web.Response:
    await require_role(request, "hotline")
    country = _country(request)
    hotline = parse_body(HotlineIn, await request.read())
    await partners.set_hotline(request.app[POOL], country, **hotline.model_dump())
    return web.Response(status=204)


@routes.delete("/api/v1/hotlines/{country}")
async def remove_hotline(request: web.Request) -> web.Response:
    await require_role(request, "hotline")
    if not await resolve.remove_hotline(request.app[POOL], _country(request)):
        raise not_found("hotline")
    return web.Response(status=204)


def _country(request: web.Request) -> str:
    country = request.match_info["country"]
    if not re.fullmatch(r"[A-Za-z]{2}", country):
        raise not_found("hotline")
    return country.upper()
