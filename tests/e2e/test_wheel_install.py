"""It works when installed the way users install it: from the wheel, outside the checkout.

The sdist is built from the checkout and the wheel from the sdist (so both must carry every
file the code reads at run time), the wheel is installed into a fresh virtual environment in a
temporary folder (no editable install, no PYTHONPATH, the working directory outside the
checkout), and the installed `takedown` runs the lifecycle against the simulated world that
the installed `takedown sim serve` provides: a notice reaches the SMTP sink, its
acknowledgment page renders, `/oversight/login` renders; `takedown demo` prints removals and
its printed login opens the pages for longer than the demo's compressed clock would allow.

Dependencies are installed offline from a wheelhouse built once per dependency set and kept
in the user's cache folder (`pip wheel` fills it from the pip cache or the package index).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import time
import zipfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from service.sim.scanner import reports
from service.sim.world import World
from tests.integration.oversight.world import smtp_sink

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(900)
LOGIN = re.compile(r"log in as '(\w+)' \(supervisor\) with password (\S+)")
ACK_LINK = re.compile(r"http://127\.0\.0\.1:\d+/ack/[A-Za-z0-9_.~-]+")


@dataclass(frozen=True)
class Install:
    """A fresh virtual environment with the built wheel installed, and the built files."""

    venv: Path
    wheel: Path
    sdist: Path
    work: Path

    @property
    def takedown(self) -> str:
        return str(self.venv / "bin" / "takedown")

    def site_packages(self) -> Path:
        return next((self.venv / "lib").glob("python3.*/site-packages"))


def _run(*args: str | Path, cwd: Path) -> str:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=_clean_env(), capture_output=True, text=True
    )
    assert done.returncode == 0, f"{args}: {done.stdout[-2000:]}{done.stderr[-4000:]}"
    return done.stdout


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment without anything pointing at the checkout or configuring the service."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TAKEDOWN_", "PYTHON", "VIRTUAL_ENV", "PIP_"))
    }
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if ROOT.as_posix() not in p
    )
    return env | extra


def _wheelhouse(wheel: Path, work: Path) -> Path:
    """Wheels of every dependency, built once per dependency set, kept between runs."""
    with zipfile.ZipFile(wheel) as archive:
        metadata = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        requires = sorted(
            line
            for line in archive.read(metadata).decode().splitlines()
            if line.startswith("Requires-Dist:") and "extra ==" not in line
        )
    digest = hashlib.sha256("\n".join([sys.version, *requires]).encode()).hexdigest()[:16]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    house = cache / "takedown-tracker" / f"wheelhouse-{digest}"
    if not house.is_dir():
        partial = work / "wheelhouse"
        _run(sys.executable, "-m", "pip", "wheel", "-q", "--wheel-dir", partial, wheel, cwd=work)
        (partial / wheel.name).unlink()
        house.parent.mkdir(parents=True, exist_ok=True)
        staged = house.with_name(f"{house.name}.{os.getpid()}")
        shutil.copytree(partial, staged)
        try:
            staged.rename(house)  # atomic: a concurrent run's finished copy is kept as it is
        except OSError:
            shutil.rmtree(staged)
    return house


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Install]:
    work = tmp_path_factory.mktemp("wheel-install")
    assert ROOT not in work.parents
    dist = work / "dist"
    # sdist from the checkout, then the wheel from the sdist (python -m build's default).
    _run(sys.executable, "-m", "build", "--no-isolation", "--outdir", dist, ROOT, cwd=work)
    [wheel], [sdist] = dist.glob("*.whl"), dist.glob("*.tar.gz")
    venv = work / "venv"
    _run(sys.executable, "-m", "venv", venv, cwd=work)
    python = venv / "bin" / "python"
    house = _wheelhouse(wheel, work)
    _run(python, "-m", "pip", "install", "-q", "--no-index", "--find-links", house, wheel, cwd=work)
    yield Install(venv, wheel, sdist, work)


def test_the_installed_package_is_the_wheel_not_the_checkout(installed: Install) -> None:
    where = _run(
        installed.venv / "bin" / "python",
        "-c",
        "import service, service.templates; print(service.__file__); "
        "print(service.templates.__file__)",
        cwd=installed.work,
    ).split()
    site = installed.site_packages()
    assert [Path(w).parent for w in where] == [site / "service", site / "service" / "templates"]


def test_the_wheel_and_the_sdist_carry_every_file_read_at_run_time(installed: Install) -> None:
    runtime_files = [
        p.relative_to(ROOT)
        for folder in ("service", "templates")
        for p in (ROOT / folder).rglob("*")
        if p.is_file()
        and p.suffix in (".py", ".sql", ".json", ".yaml", ".j2")
        and "__pycache__" not in p.parts
    ]
    with zipfile.ZipFile(installed.wheel) as wheel:
        in_wheel = set(wheel.namelist())
    with tarfile.open(installed.sdist) as sdist:
        in_sdist = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    for path in runtime_files:
        packaged = ("service/" + path.as_posix()) if path.parts[0] == "templates" else path
        assert str(packaged) in in_wheel, f"{path} is not in the wheel"
        assert path.as_posix() in in_sdist, f"{path} is not in the sdist"
    assert any(n.startswith("service/templates/emails/en/notice") for n in in_wheel)


@dataclass
class Process:
    proc: asyncio.subprocess.Process
    lines: list[str]

    async def line_matching(self, pattern: re.Pattern[str], timeout: float) -> re.Match[str]:
        """Read stdout until a line matches (the process tells us it is ready)."""

        async def read() -> re.Match[str]:
            assert self.proc.stdout is not None
            while raw := await self.proc.stdout.readline():
                self.lines.append(raw.decode().rstrip("\n"))
                if match := pattern.search(self.lines[-1]):
                    return match
            raise AssertionError("the process ended:\n" + "\n".join(self.lines[-40:]))

        return await asyncio.wait_for(read(), timeout)


@asynccontextmanager
async def started(install: Install, *args: str, env: dict[str, str]) -> AsyncIterator[Process]:
    log = (install.work / f"{args[0]}-{time.monotonic_ns()}.log").open("wb")
    proc = await asyncio.create_subprocess_exec(
        install.takedown, *args, cwd=install.work, env=_clean_env(**env),
        stdout=asyncio.subprocess.PIPE, stderr=log,
    )  # fmt: skip
    try:
        yield Process(proc, [])
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(proc.communicate(), 30)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        log.close()


async def _takedown(install: Install, *args: str, env: dict[str, str]) -> str:
    proc = await asyncio.create_subprocess_exec(
        install.takedown, *args, cwd=install.work, env=_clean_env(**env),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, f"takedown {args}: {err.decode()[-3000:]}"
    return out.decode()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _until_healthy(base: str, session: aiohttp.ClientSession) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            async with session.get(f"{base}/healthz") as resp:
                if resp.status == 200:
                    return
        except aiohttp.ClientConnectionError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError("takedown serve did not become healthy")


async def test_the_lifecycle_runs_from_the_installed_wheel(installed: Install, db_url: str) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    async with (
        started(installed, "sim", "serve", env={}) as sim,
        smtp_sink() as (sink, smtp),
        aiohttp.ClientSession() as session,
    ):
        await sim.line_matching(re.compile("Ctrl-C stops the world"), timeout=60)
        world_env = dict(
            line.removeprefix("export ").split("=", 1)
            for line in sim.lines
            if line.startswith("export TAKEDOWN_")
        )
        env = world_env | {
            "TAKEDOWN_DATABASE_URL": db_url,
            "TAKEDOWN_SMTP_HOST": smtp.host,
            "TAKEDOWN_SMTP_PORT": str(smtp.port),
            "TAKEDOWN_LISTEN": f"127.0.0.1:{port}",
            "TAKEDOWN_PUBLIC_URL": base,
            "TAKEDOWN_DATA_DIR": str(installed.work / "data"),
            # Durations in plain seconds, as the README promises.
            "TAKEDOWN_NOTICE_GATHER_WINDOW": "0.2",
            "TAKEDOWN_WORKER_POLL_INTERVAL": "0.05",
        }
        await _takedown(installed, "migrate", env=env)
        secret = (
            await _takedown(
                installed, "token", "create", "--role", "scanner", "--name", "s", env=env
            )
        ).strip()
        report = next(r for r in reports(World.default()) if "pixelbarn" in r["url"])
        async with started(installed, "serve", env=env):
            await _until_healthy(base, session)
            async with session.post(
                f"{base}/api/v1/reports",
                json={"reports": [report]},
                headers={"Authorization": f"Bearer {secret}"},
            ) as resp:
                assert resp.status == 202, await resp.text()
            [mail] = await asyncio.wait_for(sink.wait_for(1), timeout=120)
            text = mail.message.get_body(("plain",)).get_content()
            assert report["url"].split("//", 1)[1].split("/", 1)[0].replace(".", "[.]") in text
            [ack_url] = set(ACK_LINK.findall(text))
            async with session.get(ack_url, headers={"Accept": "text/html"}) as resp:
                page = await resp.text()
                assert resp.status == 200 and "TT-N" in page, page[:500]
            async with session.get(
                f"{base}/oversight/login", headers={"Accept": "text/html"}
            ) as resp:
                assert resp.status == 200 and 'name="password"' in await resp.text()


async def test_the_demo_runs_from_the_installed_wheel_and_its_login_opens_the_pages(
    installed: Install, db_url: str
) -> None:
    env = {"TAKEDOWN_DATABASE_URL": db_url, "TAKEDOWN_DATA_DIR": str(installed.work / "data")}
    args = ("demo", "--duration", "20", "--keep-serving")
    async with started(installed, *args, env=env) as demo:
        login = await demo.line_matching(LOGIN, timeout=240)
        out = "\n".join(demo.lines)
        assert _removed(out) >= 5, out
        oversight = re.search(r"oversight: (http://127\.0\.0\.1:\d+)/oversight/", out)
        assert oversight, out
        jar = aiohttp.CookieJar(unsafe=True)  # cookies for 127.0.0.1
        async with aiohttp.ClientSession(base_url=oversight.group(1), cookie_jar=jar) as session:
            await _log_in(session, login.group(1), login.group(2))
            # The session must outlive the demo's compressed clock: 8 h / 10080 is ~2.9 s.
            logged_in_at = time.monotonic()
            while time.monotonic() - logged_in_at < 5:
                async with session.get("/oversight/queues/overdue", allow_redirects=False) as resp:
                    assert resp.status == 200, f"sent back to {resp.headers.get('Location')}"
                await asyncio.sleep(0.5)  # pacing the page loads, not synchronisation
            async with session.get("/oversight/stats", allow_redirects=False) as resp:
                assert resp.status == 200


def _removed(out: str) -> int:
    """The 'removed' column of the demo's per-hoster table, summed."""
    rows = re.findall(r"^\S.*?((?:\s+\d+){6})\s+\S+\s+\S+$", out, re.MULTILINE)
    return sum(int(numbers.split()[4]) for numbers in rows)


async def _log_in(session: aiohttp.ClientSession, name: str, password: str) -> None:
    async with session.get("/oversight/login") as resp:
        token = re.search(r'name="csrf" value="([^"]+)"', await resp.text())
        assert token, "no CSRF token on the login form"
    form = {"username": name, "password": password, "csrf": token.group(1), "next": "/oversight/"}
    async with session.post("/oversight/login", data=form, allow_redirects=False) as resp:
        assert resp.status in (302, 303), await resp.text()


def test_serve_refuses_to_start_when_the_install_lacks_a_template(
    installed: Install, db_url: str
) -> None:
    page = installed.site_packages() / "service" / "templates" / "pages" / "ack.html.j2"
    kept = installed.work / "ack.html.j2.kept"
    shutil.move(page, kept)
    try:
        done = subprocess.run(
            [installed.takedown, "serve"],
            cwd=installed.work,
            env=_clean_env(TAKEDOWN_DATABASE_URL=db_url),
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        shutil.move(kept, page)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "cannot start: files the service reads at run time are missing" in done.stderr
    assert "template pages/ack.html.j2" in done.stderr
