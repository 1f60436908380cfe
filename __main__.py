"""The BulkQA Pulumi program, and the BulkQA plugin when Pulumi starts this folder as one.

    pulumi up -s dev | prod | localstack      (see docs/deploy.md)

Every knob is optional (see components/config.py); every component output is exported under its
Python name, which is what ``bulkqa job`` reads.

Why one file plays two parts: ``pulumi package add <this repository>`` starts the plugin the way
the Python language host's ``RunPlugin`` does (pulumi/pulumi, sdk/python/cmd/pulumi-language-python):
``python <plugin folder> <engine address> [flags]``, which runs *this* ``__main__.py``;
PulumiPlugin.yaml has no ``main`` setting. A program, by contrast, is run by
``pulumi-language-python-exec`` with a resource monitor already configured (and under test mocks,
the same). So: a monitor means program; no monitor and an engine address as the first argument
means plugin, which serves the ``bulkqa:index:BulkQA`` provider and prints its port.
"""

import re
import sys

ENGINE_ADDRESS = re.compile(r"^[\w.\-\[\]:]+:\d+$")


def started_as_plugin(argv: list[str]) -> bool:
    """True when the engine started this folder as a plugin (see the module docstring)."""
    from pulumi.runtime.settings import get_monitor

    return get_monitor() is None and len(argv) > 1 and bool(ENGINE_ADDRESS.match(argv[1]))


def run_program() -> None:
    import pulumi

    from components import STACK_OUTPUTS, BulkQA
    from components.config import args_from_config, component_name

    config = pulumi.Config()
    qa = BulkQA(component_name(config), args_from_config(config))
    for attribute, export_name in STACK_OUTPUTS.items():
        pulumi.export(export_name, getattr(qa, attribute))


if started_as_plugin(sys.argv):
    from components.provider import serve

    serve()
elif __name__ == "__main__":
    from pulumi.runtime.settings import get_monitor

    if get_monitor() is None:
        sys.exit(
            "This is a Pulumi program (run `pulumi up -s <stage>`) and a Pulumi plugin (started by the "
            "engine with its address). Nothing to do when run directly."
        )
    run_program()
