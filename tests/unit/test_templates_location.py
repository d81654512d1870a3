"""Templates are found through the installed package; TAKEDOWN_TEMPLATES_DIR overrides files."""

from __future__ import annotations

from email import message_from_bytes, policy
from importlib import resources
from pathlib import Path

from service.notify.compose import build_message
from service.packaged import REQUIRED_TEMPLATES, Templates, missing_files, packaged_templates
from service.settings import Settings
from service.web.ack import strings
from tests.unit.notify.test_compose import SENDER, draft

REPOSITORY_TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def test_the_templates_come_from_the_installed_package() -> None:
    assert packaged_templates() == Path(str(resources.files("service.templates")))
    for name in REQUIRED_TEMPLATES:
        assert (packaged_templates() / name).is_file(), name
    assert missing_files(Settings()) == []


def test_every_template_of_the_repository_is_checked_at_start() -> None:
    shipped = {
        str(path.relative_to(REPOSITORY_TEMPLATES))
        for path in REPOSITORY_TEMPLATES.rglob("*")
        if path.is_file() and path.suffix in (".j2", ".yaml")
    }
    assert shipped == set(REQUIRED_TEMPLATES)


def test_a_hotlines_own_notice_wording_wins_and_the_rest_stays_shipped(tmp_path: Path) -> None:
    own = tmp_path / "emails" / "en" / "notice.txt.j2"
    own.parent.mkdir(parents=True)
    own.write_text("Our own words about {{ ref }}.\n", encoding="utf-8")
    settings = Settings(templates_dir=tmp_path)
    assert missing_files(settings) == []
    raw = build_message(draft("en", "notice"), SENDER, Templates.of(settings)).as_bytes()
    message = message_from_bytes(raw, policy=policy.default)
    assert message.get_body(("plain",)).get_content().strip() == "Our own words about TT-N000009."
    assert "TT-N000009" in message.get_body(("html",)).get_content()  # the shipped HTML
    shipped = build_message(draft("en", "notice"), SENDER).as_bytes()
    assert b"Our own words" not in shipped


def test_own_page_strings_win(tmp_path: Path) -> None:
    (tmp_path / "pages").mkdir()
    (tmp_path / "pages" / "strings.yaml").write_text("en: {title: Ours}\n", encoding="utf-8")
    assert strings(Templates.chain(tmp_path)) == {"en": {"title": "Ours"}}
    assert "nl" in strings(Templates.chain())


def test_a_templates_dir_that_is_not_a_folder_is_reported(tmp_path: Path) -> None:
    settings = Settings(templates_dir=tmp_path / "nowhere")
    assert missing_files(settings) == [
        f"TAKEDOWN_TEMPLATES_DIR {tmp_path / 'nowhere'} is not a folder"
    ]
