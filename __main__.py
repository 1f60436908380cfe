"""The BulkQA Pulumi program: one BulkQA component configured from the stack's config.

    pulumi up -s dev | prod | localstack      (see docs/deploy.md)

Every knob is optional (see components/config.py); every component output is exported under its
Python name, which is what ``bulkqa job`` reads.
"""

import pulumi

from components import STACK_OUTPUTS, BulkQA
from components.config import args_from_config, component_name

config = pulumi.Config()
qa = BulkQA(component_name(config), args_from_config(config))

for attribute, export_name in STACK_OUTPUTS.items():
    pulumi.export(export_name, getattr(qa, attribute))
