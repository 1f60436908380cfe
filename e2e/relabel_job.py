"""``bulkqa relabel create`` against the emulator, with only SageMaker stubbed (issue 15).

Neither emulator has Ground Truth (moto's SageMaker has no CreateLabelingJob), so the command runs
in-process with its SageMaker client replaced by one under botocore's ``Stubber``: the request
must equal ``request`` (what ``--dry-run`` printed, already checked against the service model),
and everything else -- reading the round, writing the manifest, categories and template to S3 --
really happens against the emulator. ``e2e.builtin_classification`` then plays the job.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from unittest import mock

from botocore.stub import Stubber
from typer.testing import CliRunner

from handlers.aws_clients import make_client


class RelabelCreateError(AssertionError):
    """``bulkqa relabel create`` failed or did not send the expected request."""


def create_with_stubbed_sagemaker(
    args: Sequence[str], request: Mapping[str, Any], env: Mapping[str, str], region: str
) -> str:
    """Run ``bulkqa <args>`` (a ``relabel create`` without ``--dry-run``); return the job ARN it printed."""
    from bulkqa import relabel_command
    from bulkqa.cli import app

    client = make_client("sagemaker", region=region)
    stubber = Stubber(client)
    arn = f"arn:aws:sagemaker:{region}:123456789012:labeling-job/{request['LabelingJobName']}"
    stubber.add_response("create_labeling_job", {"LabelingJobArn": arn}, dict(request))
    with mock.patch.object(relabel_command, "sagemaker_client", lambda endpoint_url, region: client), stubber:
        result = CliRunner().invoke(app, list(args), env=dict(env))
    if result.exit_code != 0:
        raise RelabelCreateError(f"bulkqa {' '.join(args)} exited {result.exit_code}: {result.output}")
    try:
        stubber.assert_no_pending_responses()
    except AssertionError as err:
        raise RelabelCreateError(f"CreateLabelingJob was not called: {result.output}") from err
    if not result.stdout.strip().endswith(arn):
        raise RelabelCreateError(f"the job ARN was not printed: {result.stdout!r}")
    return arn
