"""Entry point of the ``bulkqa`` command: one Typer app, one module per command."""

from __future__ import annotations

import typer

from bulkqa import export_command, job_command, preview_command, report_command, seed_command

app = typer.Typer(
    name="bulkqa",
    help="Bulk label QA on SageMaker Ground Truth: seed a round, preview the worker page, "
    "create the labeling job, report accuracy per class and confidence band.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
)


@app.callback()
def _root() -> None:
    """Bulk label QA on SageMaker Ground Truth."""


app.command("seed")(seed_command.seed)
app.command("report")(report_command.report)
app.command("export")(export_command.export)
app.add_typer(job_command.app, name="job")
app.command("preview")(preview_command.preview)

from bulkqa import relabel_command  # noqa: E402  (H6 makes registration lazy)

app.add_typer(relabel_command.app, name="relabel")


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
