"""What ``albfargate describe`` shows: the model as a tree a person reads at a glance (load balancer ->
listener -> rules in evaluation order -> target groups -> services -> containers, then what is not
emulated), and the same model as JSON (shape documented in docs/describe.md).

Owns: rendering only; pure (no I/O)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import PurePath as Path
from typing import Any

from albfargate.model import (
    Action,
    AuthenticateAction,
    Condition,
    ConditionField,
    ContainerDefinition,
    FixedResponseAction,
    ForwardAction,
    Listener,
    LoadBalancer,
    LoadBalancerType,
    RedirectAction,
    Service,
    SystemModel,
    TargetGroup,
)

JSON_FORMAT = "albfargate.describe/1"
LOCAL_HOST = "127.0.0.1"


def local_port(port: int) -> int:
    """Where a listener port is served locally: P when P >= 1024, else P + 8000 (80 -> 8080)."""
    return port if port >= 1024 else port + 8000


def local_url(listener: Listener) -> str:
    """The local URL planned for a listener (the runtime moves it when the port is taken)."""
    scheme = {"HTTP": "http", "HTTPS": "https"}.get(listener.protocol, listener.protocol.lower())
    return f"{scheme}://{LOCAL_HOST}:{local_port(listener.port)}"


# ---- tree -----------------------------------------------------------------------------------------


@dataclass
class Node:
    label: str
    details: list[str] = field(default_factory=list)
    children: list[Node] = field(default_factory=list)


def render_nodes(nodes: Sequence[Node]) -> list[str]:
    lines: list[str] = []

    def walk(node: Node, prefix: str, last: bool, top: bool) -> None:
        branch = "" if top else ("└─ " if last else "├─ ")
        lines.append(f"{prefix}{branch}{node.label}")
        inner = prefix if top else prefix + ("   " if last else "│  ")
        for d in node.details:
            bar = "│  " if node.children else "   "
            lines.append(f"{inner}{bar}{d}")
        for i, child in enumerate(node.children):
            walk(child, inner, i == len(node.children) - 1, False)

    for node in nodes:
        walk(node, "", True, True)
    return lines


def _on(flag: bool) -> str:
    return "on" if flag else "off"


def describe_condition(c: Condition) -> str:
    if c.field is ConditionField.QUERY_STRING:
        pairs = [f"{p.key}={p.value}" if p.key is not None else p.value for p in c.query_pairs]
        return f"query-string {' | '.join(pairs)}"
    values = list(c.values) + [f"~{r}" for r in c.regex_values]
    name = f"http-header {c.header_name}" if c.field is ConditionField.HTTP_HEADER else c.field.value
    return f"{name} {' | '.join(values)}"


class _Namer:
    def __init__(self, model: SystemModel) -> None:
        self.model = model
        self.tgs = {tg.arn: tg for tg in model.target_groups}

    def tg(self, arn: str) -> str:
        tg = self.tgs.get(arn)
        return tg.name if tg else arn


def describe_action(action: Action, namer: _Namer) -> str:
    if isinstance(action, ForwardAction):
        if len(action.target_groups) == 1:
            text = f"forward → {namer.tg(action.target_groups[0].target_group_arn)}"
        else:
            total = sum(t.weight for t in action.target_groups) or 1
            parts = [
                f"{namer.tg(t.target_group_arn)} ({t.weight}, {100 * t.weight / total:.0f} %)"
                for t in action.target_groups
            ]
            text = "forward → " + ", ".join(parts)
        if action.stickiness_enabled:
            text += f"; group stickiness {action.stickiness_duration_seconds} s"
        return text
    if isinstance(action, RedirectAction):
        query = f"?{action.query}" if action.query else ""
        target = f"{action.protocol}://{action.host}:{action.port}{action.path}{query}"
        return f"redirect {action.status_code.removeprefix('HTTP_')} → {target}"
    if isinstance(action, FixedResponseAction):
        body = f" {action.message_body!r}" if action.message_body else ""
        ctype = f" {action.content_type}" if action.content_type else ""
        return f"fixed-response {action.status_code}{ctype}{body}"
    assert isinstance(action, AuthenticateAction)
    return f"{action.kind.value} (recorded, not emulated)"


def _actions_text(actions: Sequence[Action], namer: _Namer) -> str:
    return "; then ".join(describe_action(a, namer) for a in actions)


def _forwarded_groups(actions: Iterable[Action]) -> list[str]:
    out: list[str] = []
    for a in actions:
        if isinstance(a, ForwardAction):
            out.extend(t.target_group_arn for t in a.target_groups if t.target_group_arn not in out)
    return out


def _container_node(c: ContainerDefinition, service: Service) -> Node:
    image = c.image
    if c.image_asset is not None:
        image = f"asset {c.image_asset.asset_hash[:12]} (built from {Path(c.image_asset.directory).name})"
    ports = ", ".join(f"{p.container_port}/{p.protocol}" for p in c.port_mappings)
    targets = [lb.container_port for lb in service.load_balancers if lb.container_name == c.name]
    extra = f"; receives traffic on {', '.join(map(str, targets))}" if targets else ""
    node = Node(f"Container {c.name}: {image}", [f"ports {ports}{extra}" if ports else "no port mappings"])
    flags = []
    if not c.essential:
        flags.append("not essential")
    if c.command is not None:
        flags.append(f"command {list(c.command)}")
    if c.entry_point is not None:
        flags.append(f"entry point {list(c.entry_point)}")
    if c.health_check is not None:
        hc = c.health_check
        flags.append(
            f"health check {list(hc.command)} every {hc.interval_seconds} s, timeout {hc.timeout_seconds} s, "
            f"retries {hc.retries}, start period {hc.start_period_seconds} s"
        )
    if c.depends_on:
        flags.append(
            "depends on " + ", ".join(f"{d.container_name} {d.condition.value}" for d in c.depends_on)
        )
    if c.secrets:
        flags.append(f"secrets {', '.join(s.name for s in c.secrets)}")
    node.details.extend(flags)
    return node


def _service_node(service: Service, model: SystemModel, shown: set[str]) -> Node:
    shown.add(service.arn)
    dc = service.deployment_configuration
    cb = dc.circuit_breaker
    breaker = "circuit breaker " + (("on, rollback " + _on(cb.rollback)) if cb.enable else "off")
    launch = service.launch_type or ", ".join(p for p, _, _ in service.capacity_provider_strategy)
    node = Node(
        f"Service {service.name} (cluster {service.cluster_name}): desired {service.desired_count}, {launch}",
        [
            f"deployment: max {dc.maximum_percent} %, min healthy {dc.minimum_healthy_percent} %, {breaker}; "
            f"grace period {service.health_check_grace_period_seconds} s; "
            f"exec {_on(service.enable_execute_command)}"
        ],
    )
    resource_id = f"service/{service.cluster_name}/{service.name}"
    target = model.scalable_target(resource_id)
    if target is not None:
        policies = []
        for p in model.policies_of(resource_id):
            metric = p.metric.value if p.metric else "custom metric"
            scale_in = "scale-in off" if p.disable_scale_in else f"in {p.scale_in_cooldown_seconds} s"
            policies.append(
                f"{metric} → {p.target_value:g} (cooldown out {p.scale_out_cooldown_seconds} s, {scale_in})"
            )
        node.details.append(f"autoscaling: {target.min_capacity}–{target.max_capacity} tasks")
        node.details.extend(f"  target tracking {p}" for p in policies)
    task_definition = model.task_definition(service.task_definition_arn)
    if task_definition is None:
        node.details.append(f"task definition {service.task_definition_arn} (not in the assembly)")
    else:
        size = ""
        if task_definition.cpu or task_definition.memory:
            size = f", cpu {task_definition.cpu}, memory {task_definition.memory} MiB"
        node.details.append(f"task definition {task_definition.family}:{task_definition.revision}{size}")
        node.children = [_container_node(c, service) for c in task_definition.containers]
    return node


def _tg_node(tg: TargetGroup, model: SystemModel, shown: set[str]) -> Node:
    port = f" :{tg.port}" if tg.port is not None else ""
    http = tg.protocol in ("HTTP", "HTTPS")
    version = f", {tg.protocol_version}" if http else ""
    label = f"Target group {tg.name} ({tg.protocol or 'lambda'}{port}, {tg.target_type}{version})"
    if tg.arn in shown:
        return Node(label + " (shown above)")
    shown.add(tg.arn)
    hc = tg.health_check
    a = tg.attributes
    codes = hc.matcher_grpc_code if hc.matcher_http_code is None else hc.matcher_http_code
    probe = f"{hc.protocol} {hc.path}" if hc.protocol in ("HTTP", "HTTPS") else hc.protocol
    result = f", codes {codes}" if hc.protocol in ("HTTP", "HTTPS") else ""
    health = (
        f"health check: {probe} on {hc.port}, every {hc.interval_seconds} s, "
        f"timeout {hc.timeout_seconds} s, healthy {hc.healthy_threshold}, unhealthy {hc.unhealthy_threshold}"
        f"{result}"
    )
    if not hc.enabled:
        health = "health check: off"
    sticky = f"stickiness {a.stickiness_type}" if a.stickiness_enabled else "stickiness off"
    slow = f"slow start {a.slow_start_seconds} s" if a.slow_start_seconds else "slow start off"
    attrs = f"deregistration delay {a.deregistration_delay_seconds} s, {a.algorithm}, {sticky}, {slow}"
    node = Node(label, [health, attrs])
    services = [s for s in model.services if any(lb.target_group_arn == tg.arn for lb in s.load_balancers)]
    node.children = [_service_node(s, model, shown) for s in services]
    return node


def _lb_node(lb: LoadBalancer, model: SystemModel, namer: _Namer, shown: set[str]) -> Node:
    a = lb.attributes
    node = Node(f"Load balancer {lb.name} ({lb.type.value}, {lb.scheme.value}) [{lb.stack}/{lb.logical_id}]")
    if lb.type is LoadBalancerType.APPLICATION:
        node.details.append(
            f"idle timeout {a.idle_timeout_seconds} s, desync {a.desync_mitigation_mode}, "
            f"X-Forwarded-For {a.xff_header_processing_mode}, HTTP/2 {_on(a.http2_enabled)}, "
            f"drop invalid headers {_on(a.drop_invalid_header_fields)}"
        )
    node.details.append(f"DNS {lb.dns_name}")
    for listener in model.listeners_of(lb.arn):
        served = "" if lb.type is LoadBalancerType.APPLICATION else " (network listener: read, not served)"
        ln = Node(f"Listener {listener.protocol} :{listener.port} → {local_url(listener)}{served}")
        if listener.certificates:
            ln.details.append(f"certificates: {len(listener.certificates)} (local CA used instead)")
        for rule in model.rules_of(listener.arn):
            conditions = " AND ".join(describe_condition(c) for c in rule.conditions) or "always"
            rn = Node(f"Rule {rule.priority}: if {conditions} → {_actions_text(rule.actions, namer)}")
            rn.children = [_tg_node(t, model, shown) for t in _groups(rule.actions, namer)]
            ln.children.append(rn)
        dn = Node(f"Default: {_actions_text(listener.default_actions, namer)}")
        dn.children = [_tg_node(t, model, shown) for t in _groups(listener.default_actions, namer)]
        ln.children.append(dn)
        node.children.append(ln)
    return node


def _groups(actions: Sequence[Action], namer: _Namer) -> list[TargetGroup]:
    return [namer.tgs[arn] for arn in _forwarded_groups(actions) if arn in namer.tgs]


def render_tree(model: SystemModel) -> str:
    namer = _Namer(model)
    shown: set[str] = set()
    counts = (
        f"{len(model.stacks)} stack(s): {len(model.load_balancers)} load balancer(s), "
        f"{len(model.listeners)} listener(s), {len(model.rules)} rule(s), "
        f"{len(model.target_groups)} target group(s), {len(model.services)} service(s), "
        f"{sum(len(t.containers) for t in model.task_definitions)} container(s)"
    )
    lines = [f"Stacks: {', '.join(model.stacks) or '(none)'}", counts, ""]
    nodes = [_lb_node(lb, model, namer, shown) for lb in model.load_balancers]
    lines.extend(render_nodes(nodes))
    loose_tgs = [tg for tg in model.target_groups if tg.arn not in shown]
    if loose_tgs:
        lines += ["", "Target groups not used by a listener:"]
        lines.extend(render_nodes([_tg_node(tg, model, shown) for tg in loose_tgs]))
    loose_services = [s for s in model.services if s.arn not in shown]
    if loose_services:
        lines += ["", "Services without a load balancer:"]
        lines.extend(render_nodes([_service_node(s, model, shown) for s in loose_services]))
    if model.buckets:
        lines += ["", "S3 buckets (on the local AWS endpoint):"]
        for b in model.buckets:
            extra = ", versioned" if b.versioning else ""
            lines.append(f"  {b.name}  {b.stack}/{b.logical_id}{extra}")
    if model.assets:
        lines += ["", "Image assets:"]
        for asset in model.assets:
            extra = f", Dockerfile {asset.dockerfile}" if asset.dockerfile else ""
            lines.append(f"  {asset.asset_hash[:12]}  {asset.directory}{extra}")
    lines.extend(_backing_lines(model))
    lines += ["", f"Not emulated ({len(model.not_emulated)}):"]
    width = max((len(n.type) for n in model.not_emulated), default=0)
    for n in model.not_emulated:
        reason = "" if n.reason == "not emulated" else f"  ({n.reason})"
        lines.append(f"  {n.type:<{width}}  {n.stack}/{n.logical_id}{reason}")
    return "\n".join(lines) + "\n"


# ---- warnings at `up` --------------------------------------------------------------------------------

SUMMARY_TYPES = 6  # how many resource types the not-emulated line names before "and N more types"


def up_warnings(model: SystemModel) -> list[str]:
    """The lines ``up`` prints before it starts (each one a warning on its own): that the template has
    no resources, or none that runs (no load balancer and no ECS service); and one summary of what is
    not emulated, grouped by type, the most frequent first (``albfargate describe`` lists each)."""
    out: list[str] = []
    runs_something = bool(model.load_balancers or model.services)
    has_resources = runs_something or bool(
        model.not_emulated
        or model.target_groups
        or model.clusters
        or model.task_definitions
        or model.scalable_targets
    )
    if not has_resources:
        out.append("the template has no resources: nothing to run")
    elif not runs_something:
        out.append(
            "the template has no load balancer and no ECS service: nothing will be served "
            "(`albfargate describe` shows what it has)"
        )
    if model.not_emulated:
        counts: dict[str, int] = {}
        for n in model.not_emulated:
            counts[n.type] = counts.get(n.type, 0) + 1
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        named = ", ".join(f"{t} x{c}" if c > 1 else t for t, c in ranked[:SUMMARY_TYPES])
        more = len(ranked) - SUMMARY_TYPES
        tail = f" and {more} more type{'s' if more > 1 else ''}" if more > 0 else ""
        total = len(model.not_emulated)
        out.append(
            f"{total} resource{'s' if total > 1 else ''} not emulated: {named}{tail} "
            "(`albfargate describe` lists them)"
        )
    return out


def _backing_lines(model: SystemModel) -> list[str]:
    """Databases (one local server each), secrets and parameters; never a secret value."""
    if not model.has_backing:
        return []
    lines = ["", "Backing resources:"]
    for db in model.databases:
        what = "Aurora cluster" if db.kind == "cluster" else "RDS instance"
        version = f" {db.engine_version}" if db.engine_version else ""
        extra = f", members {', '.join(db.members)}" if db.members else ""
        if db.serverless_v2:
            extra += f", Serverless v2 {db.serverless_v2[0]:g}-{db.serverless_v2[1]:g} ACU"
        lines.append(
            f"  database {db.stack}/{db.logical_id}  {what} {db.engine}{version}, db {db.db_name or '-'}, "
            f"port {db.port} (local: a real server on 127.0.0.1){extra}"
        )
    for sec in model.secrets:
        how = "generated once" if sec.generate else ("template value" if sec.secret_string else "empty")
        lines.append(f"  secret   {sec.name}  ({how})")
    for p in model.parameters:
        lines.append(f"  parameter {p.name}  ({p.type})")
    return lines


# ---- JSON -----------------------------------------------------------------------------------------

#: Fields whose values are secrets: shown as "****" in the JSON (a template's literal passwords).
_HIDDEN = {"SecretSpec": ("secret_string",), "Database": ("master_password",)}


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        for name in _HIDDEN.get(type(value).__name__, ()):
            if out.get(name) is not None:
                out[name] = "****"
        if isinstance(value, ForwardAction | RedirectAction | FixedResponseAction | AuthenticateAction):
            out = {"type": value.type.value, **out}
        if isinstance(value, LoadBalancer | TargetGroup):
            out["full_name"] = value.full_name
        if isinstance(value, Listener):
            out["local_port"] = local_port(value.port)
            out["local_url"] = local_url(value)
        return out
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def to_json(model: SystemModel) -> dict[str, Any]:
    """The model as plain JSON data: ``{"format": "albfargate.describe/1", <every SystemModel field>}``."""
    data = _plain(model)
    assert isinstance(data, dict)
    return {"format": JSON_FORMAT, **data}
