"""Entry point of the ``bulkqa`` command: one Typer app, one module per command, imported lazily.

Why lazy: each command module pulls in what it needs (boto3/botocore, python-liquid, matplotlib),
and ``bulkqa report --input results.csv`` needs none of the AWS or template code. ``COMMANDS``
names the module and attribute of each command; ``BulkqaGroup`` imports a module only when its
command runs (or when the full help lists every command).

The group also turns the set-up failures a new user meets first into one line each: no region
(exit 2), an endpoint that does not answer or any other AWS error escaping a command (exit 3).

Help is click's plain formatter (``rich_markup_mode=None``): it wraps every paragraph to the
terminal (at most 80 columns), never cuts an option name or a number, shows flags without a
``<bool>`` placeholder, and does not read ``[80,85)`` in a help text as Rich markup.
"""

from __future__ import annotations

import importlib
import re
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from bulkqa import __version__
from bulkqa.aws import aws_errors, describe_aws_error

# Command name -> (module, attribute): a command function, or a ``typer.Typer`` of sub-commands.
# Add a command here; nothing is imported until it is used.
COMMANDS: dict[str, tuple[str, str]] = {
    "seed": ("bulkqa.seed_command", "seed"),
    "rounds": ("bulkqa.rounds_command", "app"),
    "report": ("bulkqa.report_command", "report"),
    "export": ("bulkqa.export_command", "export"),
    "export-table": ("bulkqa.export_table_command", "export_table"),
    "preview": ("bulkqa.preview_command", "preview"),
    "job": ("bulkqa.job_command", "app"),
    "doctor": ("bulkqa.doctor_command", "doctor"),
    "relabel": ("bulkqa.relabel_command", "app"),
    "workers": ("bulkqa.workers_command", "workers"),
    "sandbox": ("bulkqa.sandbox_command", "app"),
    "simulate": ("bulkqa.simulate_command", "simulate"),
}
HELP_OPTIONS = ["-h", "--help"]
_FIRST_SENTENCE = re.compile(r"^(.+?[.!?])(?:\s|$)", re.DOTALL)


def short_help(text: str | None) -> str | None:
    """The first sentence of a help text, on one line: the command list shows it whole, wrapped,
    instead of click's default of cutting the first paragraph at the width with "..."."""
    if not text:
        return None
    paragraph = " ".join(text.strip().split("\n\n", 1)[0].split())
    match = _FIRST_SENTENCE.match(paragraph)
    return match.group(1) if match else paragraph


def _plain_help(command: Any) -> Any:
    """Plain (click) help and a whole-sentence short help on ``command`` and every sub-command."""
    if hasattr(command, "rich_markup_mode"):
        command.rich_markup_mode = None
    if not command.short_help:
        command.short_help = short_help(command.help)
    for sub in getattr(command, "commands", {}).values():
        _plain_help(sub)
    return command


def load_command(name: str) -> Any:
    """Import the module of command ``name`` and build its click command."""
    module_name, attribute = COMMANDS[name]
    target = getattr(importlib.import_module(module_name), attribute)
    if isinstance(target, typer.Typer):
        command = typer.main.get_command(target)
    else:
        single = typer.Typer(rich_markup_mode=None, add_completion=False)
        single.command(name)(target)
        command = typer.main.get_command(single)
    command.name = name
    return _plain_help(command)


class BulkqaGroup(TyperGroup):
    """The root group: lazy sub-commands, and one-line errors for AWS set-up failures."""

    def list_commands(self, ctx: Any) -> list[str]:
        return list(dict.fromkeys([*COMMANDS, *self.commands]))

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            self.commands[cmd_name] = load_command(cmd_name)
        return self.commands.get(cmd_name)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args and args[0] not in self.list_commands(ctx):  # a typo: suggest among every command
            for name in COMMANDS:
                self.get_command(ctx, name)
        return super().resolve_command(ctx, args)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except aws_errors() as error:
            code = getattr(error, "exit_code", 3)
            label = "error" if code == 2 else "AWS error"
            typer.echo(f"{label}: {describe_aws_error(error)}", err=True)
            raise typer.Exit(code) from error


app = typer.Typer(
    name="bulkqa",
    cls=BulkqaGroup,
    help="Bulk label QA on SageMaker Ground Truth: seed a round, preview the worker page, "
    "create the labeling job, report accuracy per class and confidence band.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": HELP_OPTIONS},
    pretty_exceptions_show_locals=False,  # locals can hold credentials
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"bulkqa {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", help="Print the version and exit.", is_eager=True, callback=_print_version),
    ] = False,
) -> None:
    """Bulk label QA on SageMaker Ground Truth."""


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
