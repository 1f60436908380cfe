"""Wait out IAM's propagation delay before the first real request of a freshly deployed function.

Why: ``pulumi up`` creates the launch role's policy, then the function, then (with ``seedCsv``)
invokes it at once. The invocation is ordered after the policy (depends_on), but IAM is
eventually consistent: for a few seconds after a policy is attached, requests made with the role
can still be refused with AccessDenied, failing a first deployment that would succeed a minute
later. So the launch function probes its input first and retries *only* AccessDenied, with
back-off, for a bounded time; after that it lets the real request fail with the real error.

Stdlib and botocore only (the Lambda package's rule).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

LOGGER = logging.getLogger("bulkqa.iam_wait")
ACCESS_DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "403"})
# 1 + 2 + 4 + 8 + 16 = 31 s of waiting at most: IAM changes usually apply within seconds.
DELAYS_S = (1.0, 2.0, 4.0, 8.0, 16.0)


def is_access_denied(error: BaseException) -> bool:
    return isinstance(error, ClientError) and str(error.response.get("Error", {}).get("Code")) in ACCESS_DENIED_CODES


def wait_for_access(
    probe: Callable[[], Any],
    *,
    what: str,
    delays: tuple[float, ...] = DELAYS_S,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Call ``probe`` until it is not refused with AccessDenied; return the retries it took.

    Any other outcome (success, NoSuchKey, throttling…) ends the wait at once: the caller's real
    request reports it. If access is still denied after the last delay, the wait ends too.
    """
    for retry, delay in enumerate((*delays, None)):
        try:
            probe()
            return retry
        except ClientError as err:
            if not is_access_denied(err) or delay is None:
                return retry
            LOGGER.warning("access to %s denied; IAM may still be propagating, retrying in %.0f s", what, delay)
            sleep(delay)
    return len(delays)  # pragma: no cover - the loop always returns
