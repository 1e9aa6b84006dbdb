"""The retry policy: tenacity's own pieces, for transient transport failures only.

Only :class:`remediate.errors.TransientError` is retried (refused, reset, timed out, transport 5xx), with
exponential backoff and jitter; an authentication failure, a host key or certificate problem, or a script's
own failure is never retried.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import tenacity

from remediate.errors import TransientError


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3
    initial: float = 0.5  # seconds before the second attempt
    maximum: float = 10.0  # the longest single wait
    jitter: float = 0.5  # up to this many seconds added at random
    deadline: float | None = None  # give up after this many seconds in all

    def retrying(self, before_sleep: Callable[[tenacity.RetryCallState], None] | None = None) -> tenacity.Retrying:
        stop = tenacity.stop_after_attempt(max(1, self.attempts))
        if self.deadline is not None:
            stop = stop | tenacity.stop_after_delay(self.deadline)
        return tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(TransientError),
            stop=stop,
            wait=tenacity.wait_exponential(multiplier=self.initial, max=self.maximum)
            + tenacity.wait_random(0, self.jitter),
            before_sleep=before_sleep,
            reraise=True,
        )


NO_RETRY = RetryPolicy(attempts=1)
