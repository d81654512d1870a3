"""`takedown withdraw --hash sha256:<hex> --reason TEXT`: take a hash back (a false positive).

Every open case with the hash stops (unsent notices cancelled, no reminders, no re-checks),
everyone already notified gets a short withdrawal notice, and later reports of the hash are
answered `rejected` with the reason. A supervisor's act: the actor is recorded on each case.
"""

from __future__ import annotations

import click

from service.cli.base import get_settings, main, run
from service.usecases.withdraw import InvalidHashSpec, withdraw_hash_command


@main.command("withdraw")
@click.option("--hash", "spec", required=True, help="the content hash, e.g. sha256:<64 hex>")
@click.option("--reason", required=True, help="why (answered to scanners reporting it again)")
@click.option("--by", "by", default="cli", help="who decided (recorded in the audit trail)")
@click.pass_context
def withdraw(ctx: click.Context, spec: str, reason: str, by: str) -> None:
    """Withdraw a hash: its cases stop and its later reports are rejected."""
    settings = get_settings(ctx)
    try:
        done = run(withdraw_hash_command(settings, spec, reason=reason, actor=f"supervisor:{by}"))
    except (InvalidHashSpec, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    before = " (it was withdrawn before)" if done["already_withdrawn"] else ""
    click.echo(
        f"withdrawn {done['hash']}{before}: {done['cases_withdrawn']} case(s) stopped,"
        f" {done['notices_cancelled']} unsent notice(s) cancelled,"
        f" {done['withdrawal_notices']} withdrawal notice(s) queued"
    )
