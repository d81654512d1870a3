from __future__ import annotations

import asyncio

import pytest
from click.testing import CliRunner

from service.settings import Settings
from service.sim.cli import sim
from service.sim.clock import SimClock
from service.sim.runner import SimulatedInternet


def test_settings_overrides_are_valid_settings(net: SimulatedInternet) -> None:
    settings = Settings(**net.settings_overrides())
    assert settings.dns_nameservers == [net.dns_address]
    assert settings.rdap_bootstrap_url == net.rdap_url
    assert settings.probe_proxy == net.proxy_url
    assert (settings.smtp_host, settings.smtp_port) == ("127.0.0.1", net.smtp_port)
    assert settings.abusix_zone == "abuse-contacts.abusix.zone"


def test_environment_lines_parse_back_into_settings(
    net: SimulatedInternet, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in net.environment().items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    assert settings.dns_nameservers == [net.dns_address]
    assert settings.allow_private_targets is False


def test_every_peer_listens_on_loopback(net: SimulatedInternet) -> None:
    assert net.dns_address.startswith("127.0.0.1:")
    for url in (net.rdap_url, net.proxy_url):
        assert url.startswith("http://127.0.0.1:")
    assert net.smtp_host == "127.0.0.1"


async def test_frozen_clock_moves_only_when_advanced() -> None:
    clock = SimClock(time_scale=0)
    assert clock.now() == 0
    sleeper = asyncio.create_task(clock.sleep(100))
    clock.advance(50)
    await asyncio.sleep(0)
    assert not sleeper.done()
    clock.advance(50)
    await asyncio.wait_for(sleeper, 1)
    assert clock.now() == 100
    assert clock.datetime() - clock.epoch == clock.datetime(100) - clock.epoch


async def test_scaled_clock_runs_fast() -> None:
    clock = SimClock(time_scale=100_000)
    await asyncio.wait_for(clock.sleep(1000), 1)  # 1000 simulated s = 10 ms real
    assert clock.now() >= 1000
    assert clock.to_real(86400) == pytest.approx(0.864)
    with pytest.raises(ValueError):
        clock.advance(-1)


def test_cli_group_and_serve_help() -> None:
    result = CliRunner().invoke(sim, ["serve", "--help"])
    assert result.exit_code == 0
    assert "--world" in result.output and "--seed" in result.output
