"""The BulkQA component provider: what ``pulumi package add`` starts to serve ``bulkqa:index:BulkQA``.

Pulumi infers the schema from the type annotations of ``BulkQA`` and ``BulkQAArgs``
(``pulumi.provider.experimental``). One fix on top of the SDK's ``ComponentProvider``: its input
mapping calls ``int(value)`` on every *integer* property, which crashes (TypeError) when a
TypeScript/YAML/Go consumer passes an output of another resource (``batchSize:
${other.count}``): an ``Output`` has no ``int()``. Such values are passed through unconverted
here; the component resolves them with ``apply`` and checks each is a whole number in range.
Plain numbers still go through the SDK's own conversion.
"""

from __future__ import annotations

import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import pulumi
from pulumi.provider.experimental.component import ComponentDefinition, ComponentProvider

from .bulkqa import BulkQA

PACKAGE_NAME = "bulkqa"  # the first part of the type token bulkqa:index:BulkQA
FALLBACK_VERSION = "0.1.0"


def package_version() -> str:
    try:
        return version(PACKAGE_NAME)
    except PackageNotFoundError:
        return FALLBACK_VERSION


class BulkQAProvider(ComponentProvider):
    """``ComponentProvider`` for BulkQA that accepts outputs for its number inputs."""

    def __init__(self, version_text: str | None = None) -> None:
        super().__init__([BulkQA], PACKAGE_NAME, None, version_text or package_version())

    def map_inputs(self, inputs: Any, component_def: ComponentDefinition) -> Any:
        deferred = (
            {k: v for k, v in inputs.items() if isinstance(v, pulumi.Output)} if isinstance(inputs, dict) else {}
        )
        plain = {k: v for k, v in inputs.items() if k not in deferred} if deferred else inputs
        mapped = super().map_inputs(plain, component_def)
        for schema_name, value in deferred.items():
            if schema_name in component_def.inputs_mapping:
                mapped[component_def.inputs_mapping[schema_name]] = value
        return mapped


def serve(args: list[str] | None = None) -> None:
    """Serve the provider over gRPC: prints the port on stdout, as the engine expects."""
    from pulumi.provider import main

    main(BulkQAProvider(), list(sys.argv[1:] if args is None else args))
