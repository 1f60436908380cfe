"""``bulkqa simulate --round R``: play Ground Truth on a round's tasks in the local sandbox.

Why: to rehearse the whole loop (seed -> job -> answers -> report -> next round) without AWS. Each
manifest part of the round (``rounds/R/manifest-*.jsonl``) runs as one labeling job through the
same Ground Truth simulator as the e2e suite: the deployed pre-labeling function, the worker page
rendered and read as a browser would, ``--workers`` simulated workers, the deployed
post-labeling function. Workers judge against a hidden truth (the label is right with
probability confidence/100, fixed per pair) and err in ``--error-rate`` of their answers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from bulkqa.sandbox_command import DEFAULT_STATE, _engine


def simulate(
    round_name: Annotated[str, typer.Option("--round", help="The round whose tasks to answer.")],
    workers: Annotated[int, typer.Option(min=1, max=9, help="Simulated workers per task.")] = 3,
    error_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of answers a worker gets wrong (0-1).")
    ] = 0.1,
    seed: Annotated[int, typer.Option(help="Seed of the workers' mistakes (same seed, same answers).")] = 0,
    state_dir: Annotated[Path, typer.Option("--state-dir", help="The sandbox's state folder.")] = DEFAULT_STATE,
) -> None:
    """Answer every task of a round in the sandbox, as Ground Truth workers would."""
    from handlers.rounds import RoundNameError, validate_round_name

    try:
        validate_round_name(round_name)
    except RoundNameError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from err
    sandbox = _engine()
    state = sandbox.read_state(state_dir)
    if state is None or not sandbox.alive(state.pid):
        typer.echo("error: no sandbox is running; start one with `bulkqa sandbox up`", err=True)
        raise typer.Exit(2)
    try:
        parts = sandbox.simulate_round(state, round_name, workers=workers, error_rate=error_rate, seed=seed)
    except LookupError as err:
        typer.echo(f"error: {escape(str(err))}", err=True)
        raise typer.Exit(2) from err
    console = Console(stderr=True, width=min(Console().width, 120))
    for part in parts:
        console.print(
            f"{escape(part.manifest_uri)}: job {escape(part.job)}, {part.tasks} tasks, {part.votes} votes",
            overflow="fold",
        )
    total = sum(p.tasks for p in parts)
    console.print(f"round {escape(round_name)}: {total} tasks answered by {workers} workers each")
