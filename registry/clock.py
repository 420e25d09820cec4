"""The one clock: wall time (UTC, whole seconds), monotonic time for deadlines and time-to-live,
and sleeping. Injected wherever time is read — the service, the checkpoint builder, the
anchoring worker, the verifier and its chain-facts cache, the metrics — so that tests set and
advance time instead of sleeping. `api.stack.Stack` builds everything from one `Clock`.
"""

import datetime as dt
import time
from typing import Final, Protocol

__all__ = ["SYSTEM_CLOCK", "Clock", "SystemClock", "naive_utc", "utc_now"]


def utc_now() -> dt.datetime:
    """Now in UTC, whole seconds (the precision of a signed `at`)."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def naive_utc(moment: dt.datetime) -> dt.datetime:
    """`moment` as naive UTC, the form the database's timestamp columns store."""
    return moment.astimezone(dt.UTC).replace(tzinfo=None)


class Clock(Protocol):
    def now(self) -> dt.datetime:
        """Wall time, timezone-aware UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (deadlines, time-to-live)."""
        ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The machine's clocks."""

    def now(self) -> dt.datetime:
        return utc_now()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


SYSTEM_CLOCK: Final = SystemClock()
