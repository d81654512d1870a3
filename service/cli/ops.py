"""Operations commands: `takedown audit verify`, `takedown retention purge`; start-up checks."""

from __future__ import annotations

import ipaddress
import logging
from datetime import timedelta
from urllib.parse import unquote, urlsplit

import click

from service.cli.base import get_settings, main, run
from service.settings import Settings, SmtpTls
from service.usecases import cases
from service.usecases.retention import PurgeResult, purge_closed_cases
from service.usecases.store import database_url, pool_for

log = logging.getLogger(__name__)


def _is_local(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def insecure_settings(settings: Settings) -> list[str]:
    """Warnings about settings that expose mail or tokens on the network."""
    warnings = []
    remote_smtp = not _is_local(settings.smtp_host)
    if settings.smtp_tls is SmtpTls.NONE and remote_smtp:
        warnings.append(
            f"SMTP to {settings.smtp_host} without TLS: notices (URLs) travel in clear text; "
            "set TAKEDOWN_SMTP_TLS=starttls or tls"
        )
    if settings.smtp_tls is SmtpTls.NONE and settings.smtp_username:
        warnings.append("SMTP password sent without TLS; set TAKEDOWN_SMTP_TLS")
    if settings.smtp_username is None and remote_smtp:
        warnings.append(
            f"SMTP to {settings.smtp_host} without authentication (TAKEDOWN_SMTP_USERNAME unset)"
        )
    if not _is_local(settings.listen_host) and settings.public_url.startswith("http://"):
        warnings.append(
            f"HTTP on {settings.listen} and public URL {settings.public_url} without TLS: "
            "bearer tokens and acknowledgment links travel in clear; put a TLS proxy in front"
        )
    return warnings


# The placeholder secrets of docker-compose.yml (${VAR:-default}): fine for a first look on one
# machine, never for a service that is reachable (a test keeps this list true to the file).
EXAMPLE_SECRETS = frozenset({"change-me-metrics", "takedown-dev-only"})


def example_secrets(settings: Settings) -> list[str]:
    """The settings that still hold one of the compose file's example secrets."""
    found = []
    if settings.metrics_token and settings.metrics_token.get_secret_value() in EXAMPLE_SECRETS:
        found.append("TAKEDOWN_METRICS_TOKEN")
    dsn = settings.dsn or ""
    try:
        password = urlsplit(dsn).password
    except ValueError:
        password = None
    if password is not None and unquote(password) in EXAMPLE_SECRETS:
        found.append("TAKEDOWN_DATABASE_URL (POSTGRES_PASSWORD)")
    for name, secret in (
        ("TAKEDOWN_SMTP_PASSWORD", settings.smtp_password),
        ("TAKEDOWN_PROBE_TOKEN", settings.probe_token),
        ("TAKEDOWN_VERP_SECRET", settings.verp_secret),
    ):
        if secret is not None and secret.get_secret_value() in EXAMPLE_SECRETS:
            found.append(name)
    return found


def refuse_example_secrets(settings: Settings) -> None:
    """`serve` and `worker` do not start with the compose file's example secrets."""
    found = example_secrets(settings)
    if found:
        raise click.ClickException(
            "refusing to start with the example secrets of docker-compose.yml in "
            + ", ".join(found)
            + ": set your own (e.g. POSTGRES_PASSWORD and TAKEDOWN_METRICS_TOKEN in .env)"
        )


def warn_if_insecure(settings: Settings) -> None:
    """Log each start-up warning (called by `serve` and `worker`)."""
    for warning in insecure_settings(settings):
        log.warning("insecure setting: %s", warning)


@main.group()
def audit() -> None:
    """Check the tamper-evident history of cases."""


@audit.command("verify")
@click.option("--case", "case_id", type=int, default=None, help="Only this case.")
@click.pass_context
def audit_verify(ctx: click.Context, case_id: int | None) -> None:
    """Recompute every case's event hash chain; exit 1 at a broken link."""
    report = run(_verify(database_url(get_settings(ctx)), case_id))
    click.echo(f"checked {report.events} events of {report.cases} cases")
    for broken in report.broken or []:
        click.echo(f"BROKEN: {broken.render()}", err=True)
    if not report.ok:
        ctx.exit(1)
    click.echo("all chains intact")


async def _verify(dsn: str, case_id: int | None) -> cases.AuditReport:
    async with pool_for(dsn, min_size=1, max_size=1) as pool:
        return await cases.verify(pool, case_id)


@main.group()
def retention() -> None:
    """Forget URLs of long-closed cases, keeping anonymous statistics."""


@retention.command("purge")
@click.option(
    "--older-than",
    "days",
    type=click.IntRange(1),
    default=None,
    help="Days since closing; default TAKEDOWN_RETENTION_DAYS.",
)
@click.pass_context
def retention_purge(ctx: click.Context, days: int | None) -> None:
    """Replace the URLs of cases closed more than DAYS ago by a marker."""
    settings = get_settings(ctx)
    days = days or settings.retention_days
    if days is None:
        raise click.UsageError("give --older-than DAYS or set TAKEDOWN_RETENTION_DAYS")
    result = run(_purge(database_url(settings), timedelta(days=days)))
    click.echo(
        f"purged the URLs of {result.purged} cases closed more than {days} days ago"
        f" (and the text of {result.mails_cleared} mails about them)"
    )
    for case_id, count in sorted(result.events_quoting_url.items()):
        click.echo(f"warning: case {case_id} has {count} event(s) quoting its URL", err=True)


async def _purge(dsn: str, older_than: timedelta) -> PurgeResult:
    async with pool_for(dsn, min_size=1, max_size=2) as pool:
        return await purge_closed_cases(pool, older_than)
