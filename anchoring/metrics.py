"""Prometheus metrics of the anchoring pipeline, read from the database when scraped.

- `certreg_log_size`: events in the log;
- `certreg_events_unanchored`: events not yet covered by an anchored checkpoint;
- `certreg_oldest_unanchored_event_age_seconds`: how long the oldest of them has waited (the
  number to alert on against the maximum merge delay);
- `certreg_checkpoints_anchored`: anchored checkpoints;
- `certreg_anchoring_failures_total`, `certreg_worker_checkpoints_anchored_total`,
  `certreg_foreign_checkpoints`, `certreg_log_signer_refusals_total{reason}`: this process's
  worker, when it runs one.
"""

import datetime as dt
from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.orm import Session, sessionmaker

from anchoring.logsigner import REFUSAL_REASONS
from anchoring.worker import AnchoringWorker
from registry.clock import naive_utc, utc_now
from registry.db.repositories import CheckpointRepository, LogRepository

__all__ = ["RegistryCollector"]


class RegistryCollector(Collector):
    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        worker: Callable[[], AnchoringWorker | None] = lambda: None,
        clock: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        self._sessions = sessions
        self._worker = worker
        self._clock = clock

    def collect(self) -> Iterator[Metric]:
        with self._sessions() as session:
            size = LogRepository(session).tree_size()
            anchored = CheckpointRepository(session).latest_anchored()
            anchored_size = 0 if anchored is None else anchored.tree_size
            oldest = (
                LogRepository(session).first_at_or_after(anchored_size)
                if size > anchored_size
                else None
            )
        yield GaugeMetricFamily("certreg_log_size", "Events in the log.", value=size)
        yield GaugeMetricFamily(
            "certreg_events_unanchored",
            "Events not yet covered by an anchored checkpoint.",
            value=size - anchored_size,
        )
        age = 0.0
        if oldest is not None:
            now = naive_utc(self._clock())
            age = max((now - oldest).total_seconds(), 0.0)
        yield GaugeMetricFamily(
            "certreg_oldest_unanchored_event_age_seconds",
            "How long the oldest event not yet anchored has waited.",
            value=age,
        )
        yield GaugeMetricFamily(
            "certreg_checkpoints_anchored",
            "Anchored checkpoints.",
            value=0 if anchored is None else anchored.index + 1,
        )
        worker = self._worker()
        if worker is not None:
            yield CounterMetricFamily(
                "certreg_anchoring_failures",
                "Errors the anchoring worker of this process retried after.",
                value=worker.failures,
            )
            yield GaugeMetricFamily(
                "certreg_foreign_checkpoints",
                "Checkpoints on chain this registry never made, as the anchoring worker of this "
                "process last saw them (above 0: another holder of the anchoring key; alert).",
                value=worker.foreign_checkpoints,
            )
            refusals = CounterMetricFamily(
                "certreg_log_signer_refusals",
                "Checkpoints the log signer refused to authorise, by reason (alert on any but "
                "not_growing, which a retry after an unrecorded send meets, and unavailable).",
                labels=["reason"],
            )
            for reason in sorted({*REFUSAL_REASONS, *worker.refusals}):
                refusals.add_metric([reason], worker.refusals[reason])
            yield refusals
            yield CounterMetricFamily(
                "certreg_worker_checkpoints_anchored",
                "Checkpoints the anchoring worker of this process anchored.",
                value=worker.anchored,
            )
