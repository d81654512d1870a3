"""Bearer-token authentication by role."""

from __future__ import annotations

from aiohttp import web

from service.usecases.tokens import Token, authenticate
from service.web.keys import POOL
from service.web.problems import forbidden, unauthorized

TOKEN_KEY = web.RequestKey("token", Token)


async def current_token(request: web.Request) -> Token | None:
    """The token presented with the request (cached on the request), or None."""
    if TOKEN_KEY in request:
        return request[TOKEN_KEY]
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    token = None
    if scheme.lower() == "bearer" and secret.strip() and len(secret) < 200:
        token = await authenticate(request.app[POOL], secret.strip())
    if token is not None:
        request[TOKEN_KEY] = token
    return token


# A supervisor token may do whatever a hotline token may, and place and lift holds (as a
# supervisor on the pages): holds over the API need it.
SUPERVISOR = "supervisor"


def has_role(token: Token, *roles: str) -> bool:
    return token.role in roles or (token.role == SUPERVISOR and "hotline" in roles)


async def require_role(request: web.Request, *roles: str) -> Token:
    """The caller's token if it has one of `roles`; 401 without a valid token, 403 otherwise."""
    token = await current_token(request)
    if token is None:
        raise unauthorized()
    if not has_role(token, *roles):
        raise forbidden(" or ".join(roles))
    return token
