"""The files the service reads at run time, found through the installed package.

Templates live in the repository's top-level `templates/` folder and are installed as the
package `service.templates` (setup.py maps it), so a wheel, an sdist and an editable install
all carry them. A hotline may put its own wording in `TAKEDOWN_TEMPLATES_DIR`: a file there
wins over the packaged one of the same name, and the rest come from the package.

`missing_files()` lets `serve` and `worker` refuse to start, with the list, when an install
lacks something they would otherwise only miss at the first notice or page.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import jinja2

from service.domain.notices import LANGUAGES
from service.settings import Settings

TEMPLATES_PACKAGE = "service.templates"
NOTICE_KINDS = ("notice", "reminder", "escalation", "withdrawal")
OVERSIGHT_PAGES = (
    "account", "base", "case", "content", "holds", "hoster", "login", "macros", "mail", "queue",
    "stats", "webhooks", "withdrawals",
)  # fmt: skip
# What a running service renders or reads; checked at start (templates relative to a folder).
REQUIRED_TEMPLATES = (
    "emails/jurisdictions.yaml",
    "pages/ack.html.j2",
    "pages/strings.yaml",
    *(f"pages/oversight/{page}.html.j2" for page in OVERSIGHT_PAGES),
    *(
        f"emails/{language}/{name}.{form}.j2"
        for language in LANGUAGES
        for name in ("base", *NOTICE_KINDS)
        for form in ("txt", "html")
    ),
)
REQUIRED_DATA = {
    "service.db": ("migrations/0001_*.sql", "queries/*.sql"),
    "service.resolve": ("data/ipv4.json", "data/ipv6.json", "data/asn.json", "data/dns.json"),
}


class PackagedFilesMissing(RuntimeError):
    """The install lacks files the service reads at run time (a broken or partial install)."""


def packaged_templates() -> Path:
    """The folder of the templates installed with the package."""
    try:
        return Path(str(resources.files(TEMPLATES_PACKAGE)))
    except ModuleNotFoundError as exc:
        raise PackagedFilesMissing(
            f"the package {TEMPLATES_PACKAGE} (the notice and page templates) is not installed;"
            " reinstall takedown-tracker (in a checkout: pip install -e . or pip install .)"
        ) from exc


@dataclass(frozen=True)
class Templates:
    """Where templates are read from, first match wins: the hotline's folder, then the package."""

    folders: tuple[Path, ...]

    @classmethod
    def of(cls, settings: Settings) -> Templates:
        return cls.chain(settings.templates_dir)

    @classmethod
    def chain(cls, override: Path | None = None) -> Templates:
        own = (override,) if override is not None else ()
        return cls((*own, packaged_templates()))

    def file(self, name: str) -> Path:
        """The path of a template file (e.g. 'pages/strings.yaml'), the override's if it has one."""
        for folder in self.folders:
            if (folder / name).is_file():
                return folder / name
        raise PackagedFilesMissing(f"template {name} is in none of {self.where()}")

    def loader(self) -> jinja2.BaseLoader:
        return jinja2.FileSystemLoader([str(folder) for folder in self.folders])

    def missing(self) -> list[str]:
        return [
            name
            for name in REQUIRED_TEMPLATES
            if not any((folder / name).is_file() for folder in self.folders)
        ]

    def where(self) -> str:
        return ", ".join(str(folder) for folder in self.folders)


def missing_files(settings: Settings) -> list[str]:
    """What the install (and TAKEDOWN_TEMPLATES_DIR) lacks, as readable lines; empty when whole."""
    problems: list[str] = []
    if settings.templates_dir is not None and not settings.templates_dir.is_dir():
        problems.append(f"TAKEDOWN_TEMPLATES_DIR {settings.templates_dir} is not a folder")
    try:
        templates = Templates.of(settings)
    except PackagedFilesMissing as exc:
        return [*problems, str(exc)]
    problems += [f"template {name} (looked in {templates.where()})" for name in templates.missing()]
    for package, patterns in REQUIRED_DATA.items():
        folder = Path(str(resources.files(package)))
        problems += [
            f"{package} data {pattern} (in {folder})"
            for pattern in patterns
            if not any(folder.glob(pattern))
        ]
    return problems
