"""Counters of the local load balancer, per load balancer and per target group, named after the
CloudWatch metrics (RequestCount, RequestCountPerTarget, TargetResponseTime, HTTPCode_Target_2XX..5XX,
HTTPCode_ELB_3XX..5XX, HealthyHostCount, UnHealthyHostCount, plus the desync non-compliant count), and
their Prometheus text exposition.

Counters only ever grow; rates and per-minute sums are the reader's business (the autoscaler diffs two
snapshots). The proxy increments plain attributes on the hot path; nothing here allocates per request."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field


@dataclass(slots=True)
class LbCounters:
    name: str  # app/<name>/<id>
    requests: int = 0
    elb_3xx: int = 0
    elb_4xx: int = 0
    elb_5xx: int = 0
    target_2xx: int = 0
    target_3xx: int = 0
    target_4xx: int = 0
    target_5xx: int = 0
    desync_non_compliant: int = 0
    active_connections: int = 0
    new_connections: int = 0


@dataclass(slots=True)
class TgCounters:
    name: str  # targetgroup/<name>/<id>
    lb_name: str = ""
    requests: int = 0
    target_2xx: int = 0
    target_3xx: int = 0
    target_4xx: int = 0
    target_5xx: int = 0
    response_time_sum: float = 0.0
    response_time_count: int = 0
    per_target: dict[str, int] = field(default_factory=dict)


HostCounts = Callable[[str], tuple[int, int]]  # target group arn -> (healthy, unhealthy)


class Metrics:
    def __init__(self, host_counts: HostCounts | None = None) -> None:
        self.lbs: dict[str, LbCounters] = {}
        self.tgs: dict[str, TgCounters] = {}
        self._host_counts = host_counts

    def add_load_balancer(self, arn: str, full_name: str) -> LbCounters:
        c = self.lbs.get(arn)
        if c is None:
            c = self.lbs[arn] = LbCounters(full_name)
        return c

    def add_target_group(self, arn: str, full_name: str) -> TgCounters:
        c = self.tgs.get(arn)
        if c is None:
            c = self.tgs[arn] = TgCounters(full_name)
        return c

    # ------------------------------------------------------------------ recording (hot path)
    def elb_response(self, lb: LbCounters, code: int) -> None:
        lb.requests += 1
        k = code // 100
        if k == 5:
            lb.elb_5xx += 1
        elif k == 4:
            lb.elb_4xx += 1
        elif k == 3:
            lb.elb_3xx += 1

    def target_response(
        self, lb: LbCounters, tg: TgCounters, target_key: str, code: int, seconds: float
    ) -> None:
        lb.requests += 1
        tg.requests += 1
        tg.per_target[target_key] = tg.per_target.get(target_key, 0) + 1
        tg.response_time_sum += seconds
        tg.response_time_count += 1
        k = code // 100
        if k == 2:
            lb.target_2xx += 1
            tg.target_2xx += 1
        elif k == 3:
            lb.target_3xx += 1
            tg.target_3xx += 1
        elif k == 4:
            lb.target_4xx += 1
            tg.target_4xx += 1
        elif k == 5:
            lb.target_5xx += 1
            tg.target_5xx += 1

    # ------------------------------------------------------------------ reading
    def request_count_per_target(self, tg_arn: str) -> float:
        """Requests of the group divided by its healthy hosts (at least 1), spec §5 *(inferred)*."""
        tg = self.tgs.get(tg_arn)
        if tg is None:
            return 0.0
        healthy = self._host_counts(tg_arn)[0] if self._host_counts else 0
        return tg.requests / max(1, healthy)

    def snapshot(self) -> dict[str, dict[str, float]]:
        """Every metric as {dimension: {MetricName: value}} (load balancers by full name, target
        groups by full name)."""
        out: dict[str, dict[str, float]] = {}
        for lb in self.lbs.values():
            out[lb.name] = {
                "RequestCount": lb.requests,
                "HTTPCode_ELB_3XX_Count": lb.elb_3xx,
                "HTTPCode_ELB_4XX_Count": lb.elb_4xx,
                "HTTPCode_ELB_5XX_Count": lb.elb_5xx,
                "HTTPCode_Target_2XX_Count": lb.target_2xx,
                "HTTPCode_Target_3XX_Count": lb.target_3xx,
                "HTTPCode_Target_4XX_Count": lb.target_4xx,
                "HTTPCode_Target_5XX_Count": lb.target_5xx,
                "DesyncMitigationMode_NonCompliant_Request_Count": lb.desync_non_compliant,
                "ActiveConnectionCount": lb.active_connections,
                "NewConnectionCount": lb.new_connections,
            }
        for arn, tg in self.tgs.items():
            h, u = self._host_counts(arn) if self._host_counts else (0, 0)
            out[tg.name] = {
                "RequestCount": tg.requests,
                "RequestCountPerTarget": tg.requests / max(1, h),
                "TargetResponseTime": (
                    tg.response_time_sum / tg.response_time_count if tg.response_time_count else 0.0
                ),
                "HTTPCode_Target_2XX_Count": tg.target_2xx,
                "HTTPCode_Target_3XX_Count": tg.target_3xx,
                "HTTPCode_Target_4XX_Count": tg.target_4xx,
                "HTTPCode_Target_5XX_Count": tg.target_5xx,
                "HealthyHostCount": h,
                "UnHealthyHostCount": u,
            }
        return out

    def prometheus_text(self) -> str:
        lines: list[str] = []

        def family(name: str, kind: str, help_: str, samples: Iterable[tuple[str, float]]) -> None:
            lines.append(f"# HELP {name} {help_}")
            lines.append(f"# TYPE {name} {kind}")
            for labels, value in samples:
                v = repr(float(value)) if isinstance(value, float) else str(value)
                lines.append(f"{name}{{{labels}}} {v}")

        lbl = {arn: f'load_balancer="{_esc(c.name)}"' for arn, c in self.lbs.items()}
        tgl = {arn: f'target_group="{_esc(c.name)}"' for arn, c in self.tgs.items()}
        family(
            "albfargate_lb_request_count_total",
            "counter",
            "RequestCount per load balancer",
            ((lbl[a], c.requests) for a, c in self.lbs.items()),
        )
        for code in ("3", "4", "5"):
            family(
                f"albfargate_lb_httpcode_elb_{code}xx_total",
                "counter",
                f"HTTPCode_ELB_{code}XX_Count",
                ((lbl[a], getattr(c, f"elb_{code}xx")) for a, c in self.lbs.items()),
            )
        for code in ("2", "3", "4", "5"):
            family(
                f"albfargate_lb_httpcode_target_{code}xx_total",
                "counter",
                f"HTTPCode_Target_{code}XX_Count per load balancer",
                ((lbl[a], getattr(c, f"target_{code}xx")) for a, c in self.lbs.items()),
            )
        family(
            "albfargate_lb_desync_non_compliant_total",
            "counter",
            "DesyncMitigationMode_NonCompliant_Request_Count",
            ((lbl[a], c.desync_non_compliant) for a, c in self.lbs.items()),
        )
        family(
            "albfargate_lb_active_connections",
            "gauge",
            "ActiveConnectionCount",
            ((lbl[a], c.active_connections) for a, c in self.lbs.items()),
        )
        family(
            "albfargate_tg_request_count_total",
            "counter",
            "RequestCount per target group",
            ((tgl[a], c.requests) for a, c in self.tgs.items()),
        )
        family(
            "albfargate_tg_request_count_per_target",
            "gauge",
            "RequestCountPerTarget: requests of the group / healthy hosts",
            ((tgl[a], self.request_count_per_target(a)) for a in self.tgs),
        )
        for code in ("2", "3", "4", "5"):
            family(
                f"albfargate_tg_httpcode_target_{code}xx_total",
                "counter",
                f"HTTPCode_Target_{code}XX_Count per target group",
                ((tgl[a], getattr(c, f"target_{code}xx")) for a, c in self.tgs.items()),
            )
        family(
            "albfargate_tg_target_response_time_seconds_sum",
            "counter",
            "TargetResponseTime sum",
            ((tgl[a], c.response_time_sum) for a, c in self.tgs.items()),
        )
        family(
            "albfargate_tg_target_response_time_seconds_count",
            "counter",
            "TargetResponseTime count",
            ((tgl[a], c.response_time_count) for a, c in self.tgs.items()),
        )
        counts = {a: (self._host_counts(a) if self._host_counts else (0, 0)) for a in self.tgs}
        family(
            "albfargate_tg_healthy_host_count",
            "gauge",
            "HealthyHostCount",
            ((tgl[a], counts[a][0]) for a in self.tgs),
        )
        family(
            "albfargate_tg_unhealthy_host_count",
            "gauge",
            "UnHealthyHostCount",
            ((tgl[a], counts[a][1]) for a in self.tgs),
        )
        return "\n".join(lines) + "\n"


def _esc(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
