"""What every child-building module needs: the parent component, the names, the tags."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi


@dataclass(frozen=True)
class BuildContext:
    """Shared by the builders in storage/table/functions/ground_truth/template/seeding."""

    name: str
    """The component's name; every child's logical name starts with it."""
    prefix: str
    """The physical-name prefix (validated)."""
    parent: pulumi.Resource
    tags: pulumi.Output[dict[str, str]]
    protect: bool

    def child(self, suffix: str) -> str:
        return f"{self.name}-{suffix}"

    def opts(self, *, stateful: bool = False, **kwargs: Any) -> pulumi.ResourceOptions:
        """Options for a child: parented to the component; ``protect`` for stateful resources."""
        return pulumi.ResourceOptions(parent=self.parent, protect=self.protect if stateful else None, **kwargs)
