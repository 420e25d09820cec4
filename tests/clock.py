"""A `registry.clock.Clock` that moves only when a test moves it."""

import datetime as dt


class ManualClock:
    """UTC wall time and monotonic seconds, advanced together by `advance` and by `sleep`
    (which returns at once: nothing in a test waits on it)."""

    def __init__(self, start: dt.datetime = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)) -> None:
        self.wall = start
        self.ticks = 0.0
        self.slept: list[float] = []

    def now(self) -> dt.datetime:
        return self.wall

    def monotonic(self) -> float:
        return self.ticks

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        self.ticks += seconds
        self.wall += dt.timedelta(seconds=seconds)
