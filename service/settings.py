"""The one Settings class. Built once in the CLI (the composition root) and passed down.

Nothing else reads the environment. Every interval of the case lifecycle is a setting so
that the demo and the tests can run a week of lifecycle in seconds.
"""

from __future__ import annotations

import ipaddress
import json
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated

from pydantic import (
    BeforeValidator,
    Field,
    IPvAnyNetwork,
    SecretStr,
    TypeAdapter,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from service.domain.escalation import Step


def _seconds_or_iso(value: object) -> object:
    """A duration from the environment: seconds ('60', '2.5') or ISO 8601 ('PT1M', 'P1DT2H').

    pydantic alone reads a numeric *string* as an ISO duration and refuses it, while the
    README promises seconds too; numbers inside JSON lists and maps arrive as strings as well.
    """
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return value.strip()
    return value


def _as_seconds(value: object) -> object:
    """A number of seconds, also written as an ISO 8601 duration ('PT20S')."""
    value = _seconds_or_iso(value)
    if isinstance(value, str):
        return _DURATION.validate_python(value).total_seconds()
    return value


_DURATION: TypeAdapter[timedelta] = TypeAdapter(timedelta)
# Every duration setting is one of these two (tests/unit/test_settings_durations.py finds them).
Duration = Annotated[timedelta, BeforeValidator(_seconds_or_iso)]
Seconds = Annotated[float, BeforeValidator(_as_seconds)]


def _default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "takedown-tracker"


class SmtpTls(StrEnum):
    NONE = "none"
    STARTTLS = "starttls"
    TLS = "tls"


class ImapTls(StrEnum):
    NONE = "none"
    STARTTLS = "starttls"
    TLS = "tls"


class Settings(BaseSettings):
    """Configuration from `TAKEDOWN_*` environment variables (see the README table)."""

    model_config = SettingsConfigDict(env_prefix="TAKEDOWN_", extra="ignore", frozen=True)

    # --- storage -------------------------------------------------------------------------
    database_url: SecretStr | None = Field(
        default=None, description="PostgreSQL DSN; unset starts an embedded PostgreSQL"
    )  # a secret: it may carry the password (in the authority or as ?password=)
    data_dir: Path = Field(default_factory=_default_data_dir)
    db_pool_min: int = Field(default=2, ge=1)
    db_pool_max: int = Field(default=10, ge=1)
    db_connect_timeout: Seconds = Field(default=30.0, gt=0, description="seconds to keep retrying")

    # --- HTTP ------------------------------------------------------------------------------
    listen: str = "127.0.0.1:8080"
    public_url: str = "http://127.0.0.1:8080"
    http_idle_timeout: Seconds = Field(
        default=15.0,
        gt=0,
        description="a connection's time to send a complete request head (new or kept alive)",
    )
    http_body_timeout: Seconds = Field(
        default=60.0, gt=0, description="time for a request body to arrive (8 MiB: ~1.1 Mbit/s)"
    )
    max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    max_reports_per_request: int = Field(default=1000, ge=1, le=10000)
    max_clock_skew: Duration = Field(
        default=timedelta(minutes=5), description="tolerance for detected_at in the future"
    )

    # --- resolution --------------------------------------------------------------------------
    dns_nameservers: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="host[:port] list; empty = system resolver"
    )
    dns_timeout: Seconds = Field(default=3.0, gt=0)
    rdap_bootstrap_url: str | None = None
    rdap_timeout: Seconds = Field(default=10.0, gt=0)
    rdap_max_bytes: int = Field(
        default=2 * 1024 * 1024, ge=64 * 1024, description="an RDAP answer, once inflated"
    )
    rdap_cache_ttl: Duration = timedelta(days=7)
    rdap_negative_cache_ttl: Duration = timedelta(hours=6)
    abusix_zone: str = "abuse-contacts.abusix.zone"
    cymru_origin_zone: str = "origin.asn.cymru.com"
    cymru_origin6_zone: str = "origin6.asn.cymru.com"
    cymru_asn_zone: str = "asn.cymru.com"
    # resolution (issue 4): politeness towards registries, refreshable data, warm caches
    rdap_rate_limits: dict[str, float] = Field(
        default_factory=lambda: {
            "lacnic": 10.0,
            "ripe": 60.0,
            "arin": 60.0,
            "apnic": 60.0,
            "afrinic": 60.0,
        },
        description="queries per minute per registry; others use rdap_default_rate",
    )
    rdap_default_rate: float = Field(default=60.0, gt=0, description="queries/minute")
    rdap_max_wait: Seconds = Field(
        default=10.0, ge=0, description="longest in-process wait for a registry slot (s)"
    )
    rdap_concurrency: int = Field(default=16, ge=1)
    resolve_partial_after_attempts: int = Field(
        default=5,
        ge=0,
        description="attempts that wait for every source before deciding without a failed one",
    )
    resolve_data_dir: Path | None = Field(
        default=None, description="refreshed IANA bootstrap / cdn_ranges.json over the shipped"
    )

    # --- mail --------------------------------------------------------------------------------
    smtp_host: str = "localhost"
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_tls: SmtpTls = SmtpTls.NONE
    smtp_timeout: Seconds = Field(default=30.0, gt=0)
    mail_from: str = "takedown@hotline.example"
    reply_to: str = "abuse-desk@hotline.example"
    hotline_name: str = "Example Hotline"
    verp_domain: str | None = Field(
        default=None,
        description="domain of the per-notice return path bounces+<notice>.<mac>@DOMAIN;"
        " unset: notices go out from TAKEDOWN_MAIL_FROM",
    )
    verp_secret: SecretStr | None = Field(
        default=None, description="HMAC key of the return path (required with verp_domain)"
    )
    # --- CDN abuse-report APIs (service/notify/cdn_api.py; e-mail when unset) -------------
    cloudflare_account_id: str | None = Field(
        default=None, max_length=32, description="the hotline's Cloudflare account"
    )
    cloudflare_api_token: SecretStr | None = Field(
        default=None, description="API token with Trust and Safety write permission"
    )
    cloudflare_api_url: str = "https://api.cloudflare.com/client/v4"
    cdn_report_read_after: Duration = Field(
        default=timedelta(hours=6), description="when a filed CDN report is read back"
    )
    # --- the hotline's mailbox (takedown mail-in) ------------------------------------------
    imap_host: str | None = None
    imap_port: int | None = Field(default=None, ge=1, le=65535, description="unset: 993/143")
    imap_username: str | None = None
    imap_password: SecretStr | None = None
    imap_tls: ImapTls = ImapTls.TLS
    imap_folder: str = "INBOX"
    imap_done_folder: str = Field(default="Processed", description="where read mail is moved")
    imap_quarantine_folder: str = Field(
        default="Quarantine", description="where mail that keeps failing is set aside"
    )
    imap_poll_interval: Seconds = Field(
        default=60.0, gt=0, description="seconds between polls when the server has no IDLE"
    )
    mail_in_max_attempts: int = Field(
        default=5, ge=1, le=1000, description="failed attempts before a mail is set aside"
    )
    mail_in_text_cap: int = Field(
        default=16 * 1024, ge=256, description="characters of a reply's text kept"
    )
    templates_dir: Path | None = Field(
        default=None, description="the hotline's own templates; a file there wins over the shipped"
    )
    notice_gather_window: Duration = timedelta(minutes=5)
    notice_max_urls: int = Field(default=250, ge=1)
    ack_token_ttl: Duration = timedelta(days=30)

    # --- probing -----------------------------------------------------------------------------
    probe_proxy: str | None = None
    probe_url: str | None = None
    probe_token: SecretStr | None = None
    allow_private_targets: bool = False
    probe_user_agent: str = "TakedownTracker/0.1 (+https://hotline.example/about-our-checks)"
    probe_timeout: Seconds = Field(default=20.0, gt=0)
    probe_max_bytes: int = Field(default=50 * 1024 * 1024, ge=1024)
    probe_max_pixels: int = Field(default=50_000_000, ge=1)
    probe_decode_concurrency: int = Field(default=2, ge=1, description="image decodes at once")
    probe_decode_budget_bytes: int = Field(
        default=256 * 1024 * 1024,
        ge=1024 * 1024,
        description="memory all image decodes in flight may hold; larger images are refused",
    )
    probe_max_redirects: int = Field(default=5, ge=0)
    probe_per_host_concurrency: int = Field(default=2, ge=1)
    pdq_threshold: int = Field(default=31, ge=0, le=256)

    # --- lifecycle clock (all intervals settings) --------------------------------------------
    recheck_dense_interval: Duration = timedelta(minutes=15)
    recheck_dense_for: Duration = timedelta(hours=6)
    recheck_hourly_interval: Duration = timedelta(hours=1)
    recheck_hourly_until: Duration = timedelta(days=3)
    recheck_sparse_interval: Duration = timedelta(hours=6)
    recheck_jitter: float = Field(default=0.1, ge=0, le=0.5)
    removal_streak: int = Field(default=2, ge=1)
    removal_min_span: Duration = timedelta(hours=1)
    watch_after_removal: list[Duration] = Field(
        default_factory=lambda: [timedelta(days=1), timedelta(days=7), timedelta(days=30)]
    )
    renotice_interval: Duration = timedelta(hours=24)
    sla_default: Duration = timedelta(hours=72)
    sla_by_country: dict[str, Duration] = Field(default_factory=lambda: {"NL": timedelta(hours=24)})
    held_min_probe_interval: Duration = timedelta(days=1)

    # --- oversight (issue 7): per-hoster SLA, escalation ladder, analyst sessions ------------
    sla_by_hoster: dict[str, Duration] = Field(
        default_factory=dict, description="hoster name → allowance; wins over sla_by_country"
    )
    escalation_steps: list[str] = Field(
        default_factory=lambda: ["upstream", "cdn", "registrar", "hotline", "law_enforcement"],
        description="the ladder after the deadline, in order",
    )
    escalation_step_interval: Duration = timedelta(hours=24)
    escalation_sweep_interval: Duration = Field(
        default=timedelta(minutes=5), description="how often the escalate stage looks for due work"
    )
    analyst_session_ttl: Duration = timedelta(hours=8)
    analyst_session_idle: Duration = Field(
        default=timedelta(minutes=30), description="a session unused this long is over"
    )

    # --- probe limits and cloaking check (issue 6) -----------------------------------------
    probe_max_header_bytes: int = Field(default=16 * 1024, ge=1024, description="per header line")
    probe_max_headers: int = Field(default=100, ge=8)
    probe_max_decompression_ratio: float = Field(default=100.0, gt=1)
    # Browser-like profiles tried when our own user agent does not see the content (cloaking).
    probe_cloak_profiles: list[str] = Field(
        default_factory=lambda: [
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
            " Chrome/124.0 Safari/537.36"
        ]
    )

    # --- scanners' webhooks (issue 15) -------------------------------------------------------
    webhook_timeout: Seconds = Field(default=10.0, gt=0, description="seconds per delivery")
    webhook_retry_base: Duration = timedelta(seconds=10)
    webhook_retry_max: Duration = timedelta(hours=2)
    webhook_retry_for: Duration = Field(
        default=timedelta(days=3), description="a failing delivery is parked after this long"
    )
    webhook_poll_interval: Seconds = Field(
        default=1.0, gt=0, description="seconds between a receiver's looks for new outcomes"
    )

    # --- workers -----------------------------------------------------------------------------
    lease: Duration = timedelta(minutes=2)
    worker_poll_interval: Seconds = Field(default=1.0, gt=0)
    worker_batch: int = Field(default=20, ge=1)
    worker_concurrency: int = Field(default=8, ge=1)
    drain_timeout: Seconds = Field(default=10.0, ge=0)
    retry_base: Duration = timedelta(seconds=30)
    retry_max: Duration = timedelta(hours=6)

    # --- partner hotlines' instances (country policy 'forward') ------------------------------
    partner_fallback_after: Duration = Field(
        default=timedelta(days=1),
        description="a partner unreachable this long: its cases are mailed by us instead",
    )
    partner_poll_interval: Duration = timedelta(minutes=5)
    partner_timeout: Seconds = Field(default=20.0, gt=0)

    # --- operations (issue 8): retention, metrics, rate limits ------------------------------
    retention_days: int | None = Field(
        default=None, ge=1, description="purge closed cases' URLs after N days; unset keeps them"
    )
    metrics_token: SecretStr | None = Field(
        default=None, description="bearer token for /metrics; unset: closed unless metrics_open"
    )
    metrics_open: bool = Field(
        default=False, description="without a token, let loopback clients scrape /metrics"
    )
    rate_limit_per_second: float = Field(
        default=20.0, gt=0, description="requests/s per token (or client address) on /api, /ack"
    )
    rate_limit_burst: int = Field(default=200, ge=1)
    login_rate_per_minute: float = Field(
        default=10.0, gt=0, description="failed authentications per client (and per account)"
    )
    login_account_failures_per_hour: float = Field(
        default=100.0, gt=0, description="failed logins per analyst account from all clients"
    )
    trusted_proxies: Annotated[list[IPvAnyNetwork], NoDecode] = Field(
        default_factory=list,
        description="CIDRs of reverse proxies whose Forwarded / X-Forwarded-For is believed",
    )

    @field_validator("dns_nameservers", "trusted_proxies", mode="before")
    @classmethod
    def _split_list(cls, value: object) -> object:
        # `TAKEDOWN_DNS_NAMESERVERS=127.0.0.1:5353,[::1]:5353` as well as a JSON list. A
        # value that merely starts with "[" (`[::1]:5353`) is an IPv6 nameserver, not JSON.
        if not isinstance(value, str):
            return value
        try:
            decoded = json.loads(value)
        except ValueError:
            decoded = None
        if isinstance(decoded, list):
            return decoded
        return [part.strip() for part in value.split(",") if part.strip()]

    @field_validator("dns_nameservers")
    @classmethod
    def _nameservers_are_addresses(cls, specs: list[str]) -> list[str]:
        # Checked here: a bad entry would otherwise surface as a crash, or as silent
        # timeouts (a host name), at the first lookup.
        for spec in specs:
            nameserver_address(spec)
        return specs

    @field_validator("listen")
    @classmethod
    def _listen_is_host_and_port(cls, value: str) -> str:
        listen_address(value)
        return value

    @field_validator("escalation_steps")
    @classmethod
    def _steps_are_known(cls, steps: list[str]) -> list[str]:
        unknown = [step for step in steps if step not in set(Step)]
        if unknown:
            known = ", ".join(Step)
            raise ValueError(f"unknown step {', '.join(map(repr, unknown))}; known: {known}")
        return steps

    @model_validator(mode="after")
    def _verp_has_a_secret(self) -> Settings:
        if self.verp_domain and self.verp_secret is None:
            raise ValueError(
                "TAKEDOWN_VERP_DOMAIN needs TAKEDOWN_VERP_SECRET (the return path's MAC key)"
            )
        return self

    @property
    def dsn(self) -> str | None:
        """The database URL in clear, for the one place that connects with it."""
        value = self.database_url
        return value.get_secret_value() if isinstance(value, SecretStr) else value

    @property
    def listen_host(self) -> str:
        return listen_address(self.listen)[0]

    @property
    def listen_port(self) -> int:
        return listen_address(self.listen)[1]


def listen_address(value: str) -> tuple[str, int]:
    """host:port (IPv6 in brackets: [::1]:8080) as (host, port); ValueError if it is not."""
    host, colon, port = value.rpartition(":")
    if not colon or not _is_port(port, allow_zero=True):
        raise ValueError(f"{value!r} is not host:port (e.g. 127.0.0.1:8080)")
    return host.removeprefix("[").removesuffix("]"), int(port)


def _is_port(text: str, *, allow_zero: bool = False) -> bool:
    return text.isascii() and text.isdigit() and (0 if allow_zero else 1) <= int(text) <= 65535


def nameserver_address(spec: str) -> tuple[str, int]:
    """`addr`, `addr:port`, `[v6addr]:port` or a bare IPv6 address as (address, port).

    ValueError for anything else. Shared by the resolver and the probe, which both read
    TAKEDOWN_DNS_NAMESERVERS.
    """
    host, port = spec, "53"
    if spec.startswith("["):
        host, _, rest = spec[1:].partition("]")
        port = rest.removeprefix(":") if rest else "53"
    elif spec.count(":") == 1:
        host, port = spec.split(":")
    if not _is_port(port):
        raise ValueError(f"{spec!r}: the port must be a number from 1 to 65535")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"{spec!r}: a nameserver must be an IP address[:port]") from None
    return host, int(port)
