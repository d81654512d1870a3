"""One error middleware mapping typed errors to responses, and secure headers."""

from __future__ import annotations

import asyncio
import logging

import asyncpg
from aiohttp import ClientConnectionResetError, web
from aiohttp.typedefs import Handler, Middleware

from service.errors import InvalidInput, NotFound
from service.settings import Settings
from service.usecases.store import is_outage
from service.web.problems import PROBLEM_TYPE, HttpProblem, problem_response

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = "5"
NESTED_TOO_DEEP = "The JSON is nested too deeply."
_INTERNAL_ERROR = HttpProblem(
    500,
    "Internal server error",
    "Something went wrong on our side; it has been logged. Retry later or report it.",
    slug="internal",
)


_UNAVAILABLE = HttpProblem(
    503,
    "Service temporarily unavailable",
    "The database is not reachable; nothing was stored. Retry later.",
    slug="unavailable",
    headers={"Retry-After": RETRY_AFTER_SECONDS},
)


def _wants_problem(request: web.Request) -> bool:
    return request.path.startswith("/api/") or "html" not in request.headers.get("Accept", "")


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except HttpProblem as problem:
        return problem_response(problem, request.path)
    except web.HTTPException as exc:
        if exc.status < 400 or not _wants_problem(request):
            raise
        return _from_http_exception(exc, request)
    except InvalidInput as exc:
        return problem_response(
            HttpProblem(422, "Invalid input", str(exc), slug="invalid", errors=exc.problems)
        )
    except NotFound as exc:
        return problem_response(HttpProblem(404, "Not found", str(exc), slug="not-found"))
    except (asyncpg.DataError, asyncpg.IntegrityConstraintViolationError) as exc:
        # Input the database refused (a NUL byte, an out-of-range number, a reference to a
        # row that does not exist): the client's mistake, said without internals.
        return problem_response(_refused_by_database(exc), request.path)
    except RecursionError:
        # json.loads on a body nested thousands deep (any handler that parses JSON itself).
        return problem_response(
            HttpProblem(400, "Malformed JSON", NESTED_TOO_DEEP, slug="malformed-json"),
            request.path,
        )
    except Exception as exc:
        if _client_gone(request, exc):
            # The client hung up (or was timed out) mid-request: nothing to answer, and not
            # the database's fault (an OSError would otherwise read as a database outage).
            log.info("client went away while serving %s %s", request.method, request.path)
            raise
        if is_outage(exc):
            # The database is away (restart, failover): tell clients to come back, never 500.
            log.warning("database unavailable while serving %s: %s", request.path, exc)
            return problem_response(_UNAVAILABLE)
        # A bug or a broken install (a missing template): the cause and its trace go to the
        # log, the client gets problem JSON without internals.
        log.exception(
            "unhandled error while serving %s %s: %s: %s",
            request.method,
            request.path,
            type(exc).__name__,
            exc,
        )
        return problem_response(_INTERNAL_ERROR, request.path)


def _client_gone(request: web.Request, exc: BaseException) -> bool:
    """A lost client connection, as opposed to a lost database connection."""
    transport = request.transport
    if transport is None or transport.is_closing():
        return True
    # aiohttp's own words for a client that is gone (reading the body, writing the answer).
    return (isinstance(exc, ConnectionResetError) and "Connection lost" in str(exc)) or isinstance(
        exc, ClientConnectionResetError
    )


def body_deadline_middleware(settings: Settings) -> Middleware:
    """The request body must arrive within `http_body_timeout` (a byte at a time would
    hold a handler, a connection and memory forever). Read here, once; handlers' json()
    and post() use the cached body."""
    timeout = settings.http_body_timeout

    @web.middleware
    async def body_deadline(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.can_read_body:
            try:
                async with asyncio.timeout(timeout):
                    await request.read()
            except TimeoutError:
                log.info("request body of %s %s too slow: closed", request.method, request.path)
                if request.transport is not None:
                    request.transport.close()
                raise HttpProblem(
                    408,
                    "Request timeout",
                    "The request body did not arrive in time.",
                    slug="timeout",
                    headers={"Connection": "close"},
                ) from None
        return await handler(request)

    return body_deadline


def _refused_by_database(exc: asyncpg.PostgresError) -> HttpProblem:
    if isinstance(exc, asyncpg.ForeignKeyViolationError):
        detail = "The request refers to something that does not exist."
    elif isinstance(exc, asyncpg.UniqueViolationError):
        return HttpProblem(409, "Conflict", "That already exists.", slug="conflict")
    else:
        detail = "A value in the request cannot be stored (invalid characters or range)."
    return HttpProblem(422, "Invalid input", detail, slug="invalid")


def _from_http_exception(exc: web.HTTPException, request: web.Request) -> web.Response:
    detail = exc.text if exc.text and not exc.text.startswith(f"{exc.status}:") else None
    problem = HttpProblem(exc.status, exc.reason, detail)
    response = problem_response(problem, request.path)
    for name in ("Allow", "Retry-After", "WWW-Authenticate"):
        if name in exc.headers:
            response.headers[name] = exc.headers[name]
    return response


@web.middleware
async def secure_headers_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:  # redirects and HTML errors raised by page handlers
        add_secure_headers(exc)
        raise
    add_secure_headers(response)
    return response


def add_secure_headers(response: web.StreamResponse) -> None:
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault(
        "Content-Security-Policy",
        "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    )
    if response.content_type in ("application/json", PROBLEM_TYPE):
        headers.setdefault("Cache-Control", "no-store")
