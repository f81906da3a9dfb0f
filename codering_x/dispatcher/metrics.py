"""Prometheus metrics of the dispatcher (GET /metrics)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "codering_requests", "Run requests answered, by runtime and status (result status or error code)",
            ["runtime", "status"], registry=r,
        )  # fmt: skip
        self.latency = Histogram(
            "codering_request_seconds", "Time to answer a run request", ["runtime"], registry=r,
            buckets=(0.005, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60),
        )  # fmt: skip
        self.hedge_wins = Counter(
            "codering_hedge_wins", "Answers by the position of the send that won (1 = first sent)",
            ["position"], registry=r,
        )  # fmt: skip
        self.fallbacks = Counter(
            "codering_fallbacks", "Answers that came after another worker failed", ["runtime"], registry=r
        )
        self.retries = Counter("codering_retries", "Sends beyond the hedge's fan-out", ["runtime"], registry=r)
        self.worker_failures = Counter(
            "codering_worker_failures", "Infrastructure failures, by worker", ["worker", "runtime"], registry=r
        )
        self.worker_healthy = Gauge(
            "codering_worker_healthy", "1 when the worker takes traffic", ["worker", "runtime"], registry=r
        )
        self.compile_cache = Counter(
            "codering_compile_cache", "Answers with a compile stage, by whether the worker had it cached",
            ["runtime", "result"], registry=r,
        )  # fmt: skip
        self.in_flight = Gauge("codering_in_flight", "Requests being answered", ["runtime"], registry=r)
        self.sessions = Gauge("codering_sessions", "Interactive sessions open", ["runtime"], registry=r)
