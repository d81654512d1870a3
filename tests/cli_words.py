"""Check that a spelled-out `takedown …` command line names real commands and options."""

from __future__ import annotations

import click

from service.cli import main


def _options(command: click.Command) -> dict[str, click.Parameter]:
    return {name: p for p in command.params for name in (*p.opts, *p.secondary_opts)}


def _takes_value(param: click.Parameter) -> bool:
    return isinstance(param, click.Option) and not (param.is_flag or param.count)


def check_command_line(words: list[str]) -> click.Command:
    """Walk `takedown words…` through the click tree; AssertionError at the first unknown word.

    `a|b` spells alternatives (each must exist); upper-case words are placeholders (FILE, URL);
    the value after an option that takes one is not checked.
    """
    command: click.Command = main
    index = 0
    while index < len(words):
        word = words[index]
        index += 1
        if word.startswith("-"):
            for option in word.split("|"):
                assert option in _options(command), f"{option} is no option of {command.name}"
            if _takes_value(_options(command)[word.split("|")[0]]):
                index += 1
        elif isinstance(command, click.Group) and not word.isupper():
            names = word.split("|")
            for name in names:
                assert name in command.commands, f"{name!r} is no command of {command.name}"
            if len(names) > 1:
                return command
            command = command.commands[word]
    return command


def spelled_words(spelled: str) -> list[str]:
    """`hold add\\|lift [--by X]` as it stands in a Markdown table → ['hold', 'add|lift', '--by', 'X']."""
    for mark in ("\\|", "[", "]", "…"):
        spelled = spelled.replace(mark, "|" if mark == "\\|" else " ")
    return spelled.split()
