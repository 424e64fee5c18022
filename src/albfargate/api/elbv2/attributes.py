"""ELBv2 attribute sets as the API shows them: ``{Key, Value}`` string pairs with every default filled
in (spec §3.5–§3.9, §4.1), and the reverse: applying Modify*Attributes pairs to the model's typed
attributes with AWS's validation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from albfargate.api.elbv2.errors import invalid_config, validation
from albfargate.model.elbv2 import LoadBalancerAttributes, TargetGroupAttributes


def _b(value: bool) -> str:
    return "true" if value else "false"


def _bool(key: str, value: str) -> bool:
    if value.lower() not in ("true", "false"):
        raise validation(f"The value of '{key}' must be 'true' or 'false'")
    return value.lower() == "true"


def _int(key: str, value: str, lo: int, hi: int) -> int:
    try:
        n = int(value)
    except ValueError:
        raise validation(f"The value of '{key}' must be an integer") from None
    if not lo <= n <= hi:
        raise validation(f"The value of '{key}' must be between {lo} and {hi}")
    return n


def _choice(key: str, value: str, options: Sequence[str]) -> str:
    if value not in options:
        raise validation(f"The value of '{key}' must be one of: {', '.join(options)}")
    return value


def tg_pairs(a: TargetGroupAttributes) -> list[tuple[str, str]]:
    raw = dict(a.raw)
    pairs = [
        ("deregistration_delay.timeout_seconds", str(a.deregistration_delay_seconds)),
        ("stickiness.enabled", _b(a.stickiness_enabled)),
        ("stickiness.type", a.stickiness_type),
        ("stickiness.lb_cookie.duration_seconds", str(a.lb_cookie_duration_seconds)),
        ("stickiness.app_cookie.cookie_name", a.app_cookie_name or ""),
        ("stickiness.app_cookie.duration_seconds", str(a.app_cookie_duration_seconds)),
        ("load_balancing.algorithm.type", a.algorithm),
        ("load_balancing.algorithm.anomaly_mitigation", "on" if a.anomaly_mitigation else "off"),
        ("slow_start.duration_seconds", str(a.slow_start_seconds)),
        (
            "load_balancing.cross_zone.enabled",
            raw.get("load_balancing.cross_zone.enabled", "use_load_balancer_configuration"),
        ),
        (
            "target_group_health.unhealthy_state_routing.minimum_healthy_targets.count",
            str(a.unhealthy_routing_min_count),
        ),
        (
            "target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage",
            "off" if a.unhealthy_routing_min_percentage is None else str(a.unhealthy_routing_min_percentage),
        ),
        (
            "target_group_health.dns_failover.minimum_healthy_targets.count",
            raw.get("target_group_health.dns_failover.minimum_healthy_targets.count", "1"),
        ),
        (
            "target_group_health.dns_failover.minimum_healthy_targets.percentage",
            raw.get("target_group_health.dns_failover.minimum_healthy_targets.percentage", "off"),
        ),
    ]
    return pairs


_TG_PASSTHROUGH = {
    "load_balancing.cross_zone.enabled",
    "target_group_health.dns_failover.minimum_healthy_targets.count",
    "target_group_health.dns_failover.minimum_healthy_targets.percentage",
}


def apply_tg(a: TargetGroupAttributes, pairs: Sequence[tuple[str, str]]) -> TargetGroupAttributes:
    raw = dict(a.raw)
    for key, value in pairs:
        if key == "deregistration_delay.timeout_seconds":
            a = replace(a, deregistration_delay_seconds=_int(key, value, 0, 3600))
        elif key == "stickiness.enabled":
            a = replace(a, stickiness_enabled=_bool(key, value))
        elif key == "stickiness.type":
            a = replace(a, stickiness_type=_choice(key, value, ("lb_cookie", "app_cookie")))
        elif key == "stickiness.lb_cookie.duration_seconds":
            a = replace(a, lb_cookie_duration_seconds=_int(key, value, 1, 604800))
        elif key == "stickiness.app_cookie.cookie_name":
            if value.upper().startswith(("AWSALB", "AWSALBAPP", "AWSALBTG")):
                raise validation("The app cookie name cannot start with 'AWSALB', 'AWSALBAPP' or 'AWSALBTG'")
            a = replace(a, app_cookie_name=value or None)
        elif key == "stickiness.app_cookie.duration_seconds":
            a = replace(a, app_cookie_duration_seconds=_int(key, value, 1, 604800))
        elif key == "load_balancing.algorithm.type":
            a = replace(
                a,
                algorithm=_choice(
                    key, value, ("round_robin", "least_outstanding_requests", "weighted_random")
                ),
            )
        elif key == "load_balancing.algorithm.anomaly_mitigation":
            a = replace(a, anomaly_mitigation=_choice(key, value, ("on", "off")) == "on")
        elif key == "slow_start.duration_seconds":
            n = _int(key, value, 0, 900)
            if 0 < n < 30:
                raise validation("The value of 'slow_start.duration_seconds' must be 0 or between 30 and 900")
            a = replace(a, slow_start_seconds=n)
        elif key == "target_group_health.unhealthy_state_routing.minimum_healthy_targets.count":
            a = replace(a, unhealthy_routing_min_count=_int(key, value, 1, 1000))
        elif key == "target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage":
            a = replace(
                a, unhealthy_routing_min_percentage=None if value == "off" else _int(key, value, 1, 100)
            )
        elif key in _TG_PASSTHROUGH:
            pass
        else:
            raise validation(f"Target group attribute key '{key}' is not recognized")
        raw[key] = value
    if a.slow_start_seconds and a.algorithm == "least_outstanding_requests":
        raise invalid_config("Slow start cannot be combined with the least outstanding requests algorithm")
    if a.anomaly_mitigation and a.algorithm != "weighted_random":
        raise invalid_config("Anomaly mitigation is only supported with the weighted_random algorithm")
    return replace(a, raw=tuple(raw.items()))


def lb_pairs(a: LoadBalancerAttributes) -> list[tuple[str, str]]:
    raw = dict(a.raw)
    return [
        ("access_logs.s3.enabled", _b(a.access_logs_s3_enabled)),
        ("access_logs.s3.bucket", raw.get("access_logs.s3.bucket", "")),
        ("access_logs.s3.prefix", raw.get("access_logs.s3.prefix", "")),
        ("client_keep_alive.seconds", str(a.client_keep_alive_seconds)),
        ("deletion_protection.enabled", _b(a.deletion_protection)),
        ("idle_timeout.timeout_seconds", str(a.idle_timeout_seconds)),
        ("load_balancing.cross_zone.enabled", "true"),
        ("routing.http.desync_mitigation_mode", a.desync_mitigation_mode),
        ("routing.http.drop_invalid_header_fields.enabled", _b(a.drop_invalid_header_fields)),
        ("routing.http.preserve_host_header.enabled", _b(a.preserve_host_header)),
        (
            "routing.http.x_amzn_tls_version_and_cipher_suite.enabled",
            _b(a.tls_version_and_cipher_suite_headers),
        ),
        ("routing.http.xff_client_port.enabled", _b(a.xff_client_port)),
        ("routing.http.xff_header_processing.mode", a.xff_header_processing_mode),
        ("routing.http2.enabled", _b(a.http2_enabled)),
        ("waf.fail_open.enabled", _b(a.waf_fail_open)),
        ("zonal_shift.config.enabled", raw.get("zonal_shift.config.enabled", "false")),
    ]


_LB_PASSTHROUGH = {"access_logs.s3.bucket", "access_logs.s3.prefix", "zonal_shift.config.enabled"}


def apply_lb(a: LoadBalancerAttributes, pairs: Sequence[tuple[str, str]]) -> LoadBalancerAttributes:
    raw = dict(a.raw)
    for key, value in pairs:
        if key == "idle_timeout.timeout_seconds":
            a = replace(a, idle_timeout_seconds=_int(key, value, 1, 4000))
        elif key == "client_keep_alive.seconds":
            a = replace(a, client_keep_alive_seconds=_int(key, value, 60, 604800))
        elif key == "routing.http2.enabled":
            a = replace(a, http2_enabled=_bool(key, value))
        elif key == "routing.http.desync_mitigation_mode":
            a = replace(a, desync_mitigation_mode=_choice(key, value, ("monitor", "defensive", "strictest")))
        elif key == "routing.http.drop_invalid_header_fields.enabled":
            a = replace(a, drop_invalid_header_fields=_bool(key, value))
        elif key == "routing.http.preserve_host_header.enabled":
            a = replace(a, preserve_host_header=_bool(key, value))
        elif key == "routing.http.xff_header_processing.mode":
            a = replace(a, xff_header_processing_mode=_choice(key, value, ("append", "preserve", "remove")))
        elif key == "routing.http.xff_client_port.enabled":
            a = replace(a, xff_client_port=_bool(key, value))
        elif key == "routing.http.x_amzn_tls_version_and_cipher_suite.enabled":
            a = replace(a, tls_version_and_cipher_suite_headers=_bool(key, value))
        elif key == "deletion_protection.enabled":
            a = replace(a, deletion_protection=_bool(key, value))
        elif key == "access_logs.s3.enabled":
            a = replace(a, access_logs_s3_enabled=_bool(key, value))
        elif key == "waf.fail_open.enabled":
            a = replace(a, waf_fail_open=_bool(key, value))
        elif key == "load_balancing.cross_zone.enabled":
            if value != "true":
                raise invalid_config(
                    "Cross-zone load balancing is always enabled for Application Load Balancers"
                )
        elif key in _LB_PASSTHROUGH:
            pass
        else:
            raise validation(f"Load balancer attribute key '{key}' is not recognized")
        raw[key] = value
    return replace(a, raw=tuple(raw.items()))


LISTENER_DEFAULTS: tuple[tuple[str, str], ...] = (("routing.http.response.server.enabled", "true"),)
_LISTENER_PREFIXES = ("routing.http.response.", "routing.http.request.")


def listener_pairs(raw: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    merged = dict(LISTENER_DEFAULTS)
    merged.update(dict(raw))
    return list(merged.items())


def apply_listener(
    raw: Sequence[tuple[str, str]], pairs: Sequence[tuple[str, str]]
) -> tuple[tuple[str, str], ...]:
    merged = dict(raw)
    for key, value in pairs:
        if not key.startswith(_LISTENER_PREFIXES):
            raise validation(f"Listener attribute key '{key}' is not recognized")
        if key == "routing.http.response.server.enabled":
            _bool(key, value)
        merged[key] = value
    return tuple(merged.items())
