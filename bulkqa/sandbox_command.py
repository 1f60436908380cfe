"""``bulkqa sandbox up|down|env``: the real flow on this machine, without an AWS account.

``up`` starts the embedded AWS emulator (moto, IAM enforced) in the background on 127.0.0.1,
deploys the BulkQA component into it the way the e2e suite does, writes ``outputs.json`` and prints
the environment to export; every command then works against it (``seed``, ``preview``, ``job
create --dry-run``, ``report``, ``export``, ``simulate``). ``down`` stops it (state is in memory:
it is gone). The engine is ``e2e/sandbox.py``; it needs a checkout with the dev extras
(``make venv``), as the e2e suite does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

DEFAULT_STATE = Path(".bulkqa-sandbox")

app = typer.Typer(help="A local sandbox: the AWS emulator with the stack deployed, in the background.")

StateDir = Annotated[Path, typer.Option("--state-dir", help="Where the sandbox keeps its state and log.")]


def _engine():
    import sys

    checkout = Path(__file__).resolve().parents[1]  # an editable install runs from the checkout
    if (checkout / "e2e" / "sandbox.py").is_file() and str(checkout) not in sys.path:
        sys.path.insert(0, str(checkout))
    try:
        from e2e import sandbox
    except ImportError as err:
        typer.echo(
            f"error: the sandbox needs this repository's e2e harness and dev extras ({err}); run it "
            "from a checkout after `make venv`",
            err=True,
        )
        raise typer.Exit(2) from err
    return sandbox


@app.command()
def up(
    outputs: Annotated[Path, typer.Option(help="Where to write the stack outputs.")] = Path("outputs.json"),
    state_dir: StateDir = DEFAULT_STATE,
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port on 127.0.0.1 (0: any free one).")] = 0,
    iam: Annotated[bool, typer.Option("--iam/--no-iam", help="Enforce IAM in the emulator.")] = True,
) -> None:
    """Start the emulator in the background, deploy the stack, print the environment to export."""
    sandbox = _engine()
    running = sandbox.read_state(state_dir)
    if running is not None and sandbox.alive(running.pid):
        typer.echo(f"a sandbox is already running (pid {running.pid}); `bulkqa sandbox down` first", err=True)
        raise typer.Exit(2)
    typer.echo("starting the emulator and deploying the stack (about 10 s)...", err=True)
    try:
        state = sandbox.start(state_dir, outputs, port=port, enforce_iam=iam)
    except RuntimeError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(3) from err
    typer.echo(f"sandbox up: {state.emulator.endpoint_url} (pid {state.pid}); outputs in {outputs}", err=True)
    typer.echo('# paste into your shell, or: eval "$(bulkqa sandbox env)"', err=True)
    for line in sandbox.exports(state):
        typer.echo(line)


@app.command()
def env(state_dir: StateDir = DEFAULT_STATE) -> None:
    """Print the environment of the running sandbox (for `eval`)."""
    sandbox = _engine()
    state = sandbox.read_state(state_dir)
    if state is None or not sandbox.alive(state.pid):
        typer.echo("error: no sandbox is running; start one with `bulkqa sandbox up`", err=True)
        raise typer.Exit(2)
    for line in sandbox.exports(state):
        typer.echo(line)


@app.command()
def down(state_dir: StateDir = DEFAULT_STATE) -> None:
    """Stop the sandbox (everything in it is gone)."""
    sandbox = _engine()
    if sandbox.stop(state_dir):
        typer.echo("sandbox stopped", err=True)
    else:
        typer.echo("no sandbox was running", err=True)
