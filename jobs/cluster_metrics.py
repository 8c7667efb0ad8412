"""Counters and histograms kept in Redis, so that every process on every machine counts in one place.

prometheus-client's multiprocess files live in one host's PROMETHEUS_MULTIPROC_DIR: a Celery worker on another
machine (another /dev/shm) never counted in GET /metrics unless the folder was a shared volume. The metrics of
the work (jobs, models, webhook deliveries) are written here instead, with HINCRBY/HINCRBYFLOAT into one hash per
metric (keys.metric), and `ClusterCollector` reads them back when GET /metrics is scraped as the same counters
and histograms, under the same names, labels and types. Fields of a metric's hash:

    counter:    <label values as JSON>          its count
    histogram:  <label values as JSON>|<bound>  observations in (previous bound, bound], not cumulative: one
                                                field changes per observation
                <label values as JSON>|count    every observation (the +Inf bucket)
                <label values as JSON>|sum      their sum

An observation's fields change in one MULTI/EXEC, so a scrape (one HGETALL per metric) sees buckets, count and
sum agree. The hashes are bounded: label values outside a label's closed set are counted as "other", and nothing
is per job. A write that fails (Redis away) loses that count: it must never fail or slow the work it counts.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field

import redis
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from . import keys

log = logging.getLogger(__name__)

OTHER = "other"  # a label value outside its closed set (as api/metrics.py counts a made-up HTTP method)
# after a failed write the process writes nothing to that Redis for a while: a Redis that does not answer
# costs one connect timeout, not one per job end while it is away
PAUSE_SECONDS = 10.0


@dataclass(frozen=True)
class Family:
    name: str  # as prometheus-client names it (a counter without its _total)
    doc: str
    labels: tuple[str, ...] = ()
    # label -> the values it may take (read when counting: the job types are known only once imported)
    allowed: Mapping[str, Callable[[], Collection[str]]] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return keys.metric(self.name)

    def series(self, values: tuple[str, ...]) -> str:
        if len(values) != len(self.labels):
            raise ValueError(f"{self.name} has labels {self.labels}, given {values}")
        bounded = [value if (allowed := self.allowed.get(label)) is None or value in allowed() else OTHER
                   for label, value in zip(self.labels, values, strict=True)]
        return json.dumps(bounded, separators=(",", ":"))

    def _series_of(self, raw: Mapping[bytes, bytes]) -> Iterator[tuple[list[str], str, float]]:
        """(label values, part, value) of each field of the metric's hash; fields of another label set skipped."""
        for name, number in raw.items():
            field_name = keys.text(name)
            end = field_name.rfind("]") + 1  # a label value may hold "|": the JSON list ends at the last "]"
            series, part = field_name[:end], field_name[end + 1:]
            try:
                values = json.loads(series)
            except ValueError:
                continue
            if isinstance(values, list) and len(values) == len(self.labels):
                yield [str(v) for v in values], part, float(number)


@dataclass(frozen=True)
class ClusterCounter(Family):
    def inc(self, client: redis.Redis, *values: str, amount: int = 1) -> None:
        _write(client, self.key, {self.series(values): amount}, {})

    def family(self, raw: Mapping[bytes, bytes]) -> CounterMetricFamily:
        out = CounterMetricFamily(self.name, self.doc, labels=list(self.labels))
        for values, _, number in sorted(self._series_of(raw)):
            out.add_metric(values, number)
        return out

    def series_names(self) -> set[str]:
        return {f"{self.name}_total"}


@dataclass(frozen=True)
class ClusterHistogram(Family):
    buckets: tuple[float, ...] = ()  # upper bounds, ascending; +Inf is the count

    def observe(self, client: redis.Redis, *values: str, value: float) -> None:
        series = self.series(values)
        counts = {f"{series}|count": 1}
        bound = next((b for b in self.buckets if value <= b), None)
        if bound is not None:
            counts[f"{series}|{floatToGoString(bound)}"] = 1
        _write(client, self.key, counts, {f"{series}|sum": value})

    def family(self, raw: Mapping[bytes, bytes]) -> HistogramMetricFamily:
        out = HistogramMetricFamily(self.name, self.doc, labels=list(self.labels))
        parts: dict[tuple[str, ...], dict[str, float]] = {}
        for labels, part, number in self._series_of(raw):
            parts.setdefault(tuple(labels), {})[part] = number
        for values, fields in sorted(parts.items()):
            count, total = fields.pop("count", 0.0), fields.pop("sum", 0.0)
            observed = []
            for bound, number in fields.items():
                try:
                    observed.append((float(bound), number))
                except ValueError:
                    continue
            # cumulative, as Prometheus reads buckets; a bound of an earlier bucket set counts in the next one up
            buckets = [(floatToGoString(b), sum(n for at, n in observed if at <= b)) for b in self.buckets]
            out.add_metric(list(values), [*buckets, ("+Inf", count)], total)
        return out

    def series_names(self) -> set[str]:
        return {f"{self.name}_{part}" for part in ("bucket", "count", "sum")}


class _Outages:
    """Per Redis server: whether writes pause after a failure, and that the loss was logged once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._until: dict[str, float] = {}  # server -> monotonic time writes resume

    @staticmethod
    def server(client: redis.Redis) -> str:
        kw = client.connection_pool.connection_kwargs
        return f"{kw.get('host') or kw.get('path')}:{kw.get('port', '')}/{kw.get('db', 0)}"

    def paused(self, server: str) -> bool:
        with self._lock:
            return self._until.get(server, 0.0) > time.monotonic()

    def failed(self, server: str) -> None:
        with self._lock:
            first = server not in self._until
            self._until[server] = time.monotonic() + PAUSE_SECONDS
        if first:
            log.warning("metrics: Redis (%s) did not take a count; counts of GET /metrics are lost until it answers "
                        "again (the work goes on)", server, exc_info=True)

    def answered(self, server: str) -> None:
        with self._lock:
            was_away = self._until.pop(server, None) is not None
        if was_away:
            log.info("metrics: Redis (%s) takes counts again", server)


OUTAGES = _Outages()


def _write(client: redis.Redis, key: str, counts: Mapping[str, int], sums: Mapping[str, float]) -> None:
    server = OUTAGES.server(client)
    if OUTAGES.paused(server):
        return
    try:
        pipe = client.pipeline(transaction=True)  # MULTI/EXEC: a scrape never sees half an observation
        for name, count in counts.items():
            pipe.hincrby(key, name, count)
        for name, amount in sums.items():
            pipe.hincrbyfloat(key, name, amount)
        pipe.execute()
    except (redis.RedisError, OSError):
        OUTAGES.failed(server)
    else:
        OUTAGES.answered(server)


class ClusterCollector(Collector):
    """The families' counts read from Redis at scrape time (one round trip, an HGETALL per metric)."""

    def __init__(self, client: redis.Redis, families: tuple[ClusterCounter | ClusterHistogram, ...]):
        self.client = client
        self.families = families

    def collect(self) -> Iterator[CounterMetricFamily | HistogramMetricFamily]:
        pipe = self.client.pipeline(transaction=False)
        for family in self.families:
            pipe.hgetall(family.key)
        for family, raw in zip(self.families, pipe.execute(), strict=True):
            yield family.family(raw)

