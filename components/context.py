"""What every child-building module needs: the parent component, the names, the tags."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi

from . import naming


@dataclass(frozen=True)
class BuildContext:
    """Shared by the builders in storage/table/functions/ground_truth/template/seeding."""

    name: str
    """The component's name; every child's logical name starts with it."""
    names: pulumi.Output[naming.StackNames]
    """Every physical name (they depend on the region, so they are known once the region is)."""
    parent: pulumi.Resource
    tags: pulumi.Output[dict[str, str]]
    protect: bool

    def child(self, suffix: str) -> str:
        return f"{self.name}-{suffix}"

    def name_of(self, pick: Any) -> pulumi.Output[str]:
        """One physical name, e.g. ``ctx.name_of(lambda n: n.table)``."""
        return self.names.apply(pick)

    def opts(self, *, stateful: bool = False, named: bool = False, **kwargs: Any) -> pulumi.ResourceOptions:
        """Options for a child, parented to the component.

        - ``stateful`` (bucket, table) with data protection on: ``protect`` and ``retain_on_delete``.
          Nothing is passed otherwise: an explicit ``protect=False`` would override a consumer
          who set ``protect=True`` on the component (children inherit it from their parent).
        - ``named`` (an explicit physical name): ``delete_before_replace``, since a replacement
          created first would fail with "already exists" under the same name.
        """
        if stateful and self.protect:
            kwargs.setdefault("protect", True)
            kwargs.setdefault("retain_on_delete", True)
        if named:
            kwargs.setdefault("delete_before_replace", True)
        return pulumi.ResourceOptions(parent=self.parent, **kwargs)
