"""The console script: every subcommand has help, and import behaves as documented."""

import click
import pytest
from click.testing import CliRunner

from meterhub.cli import SUBCOMMANDS, main


@pytest.mark.parametrize("name", sorted(SUBCOMMANDS))
def test_every_subcommand_has_help(name):
    result = CliRunner().invoke(main, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage: meterhub" in result.output


def _commands(group, ctx, path=("meterhub",)):
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if isinstance(command, click.Group):
            yield from _commands(command, ctx, (*path, name))
        else:
            yield " ".join((*path, name)), command


def test_every_command_and_option_says_what_it_does():
    ctx = click.Context(main)
    silent = [f"{name} {param.opts[0]}" for name, command in _commands(main, ctx) for param in command.params
              if isinstance(param, click.Option) and not param.hidden and not param.help]
    silent += [name for name, command in _commands(main, ctx) if not command.help]
    assert silent == []


def test_top_level_help_lists_every_subcommand():
    result = CliRunner().invoke(main, ["--help"])
    assert all(name in result.output for name in SUBCOMMANDS)


def test_import_dry_run_lists_problems_and_fails(collector, tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("serial,site,address,collector\nE1,north,240101000001,DTU-1\nE2,north,XYZ,DTU-1\n")
    result = CliRunner().invoke(main, ["import", "meters", str(path), "--dry-run"])
    assert result.exit_code == 1
    assert "line 3, column address" in result.output
    assert "nothing was imported" in result.output


def test_import_clean_file(collector, tmp_path):
    from meterhub.assets.models import Meter

    path = tmp_path / "m.csv"
    path.write_text("serial,site,address,collector\nE1,north,240101000001,DTU-1\n")
    result = CliRunner().invoke(main, ["import", "meters", str(path)])
    assert result.exit_code == 0, result.output
    assert "imported 1 meters" in result.output
    assert Meter.objects.filter(serial="E1").exists()


def test_user_add_disable_enable(db):
    from meterhub.accounts.models import User

    runner = CliRunner()
    result = runner.invoke(main, ["user", "add", "carol", "--role", "analyst",
                                  "--password", "a long enough pass"])
    assert result.exit_code == 0, result.output
    assert runner.invoke(main, ["user", "disable", "carol"]).exit_code == 0
    assert not User.objects.get(username="carol").is_active
    assert runner.invoke(main, ["user", "enable", "carol"]).exit_code == 0
    assert User.objects.get(username="carol").is_active
    bad = runner.invoke(main, ["user", "add", "dave", "--role", "king", "--password", "a long enough pass"])
    assert bad.exit_code != 0 and "Unknown role" in bad.output
