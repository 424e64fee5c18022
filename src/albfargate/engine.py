"""Assembles and runs the local system from a :class:`SystemModel`: the live store, the task metadata
endpoint, the load balancers (``alb.runtime.LoadBalancerRuntime``), one reconcile loop per ECS service
(``ecs.scheduler``) and the autoscaler (``ecs.autoscaler``).

Start order: validate (every container has a run setting or a stand-in) → store (task definitions,
services with their first deployment) → backing resources (``backing.manager``: secrets, parameters,
database servers) → metadata endpoint → S3 buckets (``backing/s3.py``) → the AWS endpoint (when the
caller serves one: ``start(serve_api=...)``) → load balancers (bind listeners) → schedulers → autoscaler.
The AWS endpoint starts before any task, so every task's environment names it. Anything failing on the
way stops what was started and raises one
:class:`~albfargate.errors.RuntimeStartError`.

Shutdown order (written down, as uvicorn does): (1) stop the autoscaler and the reconcile loops (no new
task); (2) the load balancers stop accepting, in-flight requests finish (bounded grace), targets are
drained; (3) every task is stopped: SIGTERM, ``stopTimeout``, SIGKILL, containers in reverse ``dependsOn``
order; (4) the AWS endpoint (it served the tasks until they stopped), the S3 buckets and the metadata
endpoint are closed, the backing servers (databases) stop, the store is closed.

The methods the CLI control channel and the AWS-compatible API call are public here:
:meth:`update_desired_count`, :meth:`force_new_deployment`, :meth:`register_task_definition`,
:meth:`update_service`, :meth:`stop_task`, :meth:`run_task`, :meth:`create_service`,
:meth:`delete_service`, plus :meth:`status` and :meth:`steady`."""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import importlib.util
import logging
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from albfargate import engine_status
from albfargate.ecs.metadata import MetadataServer
from albfargate.ecs.runtime.base import ContainerSpec, TaskDriver, TaskSpec, TaskStartError
from albfargate.ecs.runtime.process import ProcessDriver, free_port
from albfargate.ecs.scheduler import Scheduler, new_deployment_id
from albfargate.ecs.tasks import StopCode, user_stop_reason
from albfargate.errors import RuntimeStartError
from albfargate.model import ids
from albfargate.model.autoscaling import ScalableTarget, TargetTrackingPolicy
from albfargate.model.ecs import ContainerDefinition, ContainerHealthCheck, Service, TaskDefinition
from albfargate.model.elbv2 import Listener, LoadBalancer, TargetGroup
from albfargate.model.system import SystemModel
from albfargate.runsettings import (
    ContainerRunSetting,
    RunSettings,
    from_template,
    load_secret_values,
    secret_value,
)
from albfargate.snapshots import CodeSnapshots, Snapshot
from albfargate.state.store import DeploymentRecord, ServiceRecord, Store, TaskRecord

if TYPE_CHECKING:  # imported when the model has load balancers / scalable targets (start-up cost)
    from albfargate.alb.runtime import LoadBalancerRuntime
    from albfargate.alb.targets import LiveTargets
    from albfargate.api.ecr.service import EcrService
    from albfargate.backing.manager import BackingManager
    from albfargate.backing.s3 import S3Service
    from albfargate.backing.store import ParameterStore, SecretStore
    from albfargate.ecs.autoscaler import Autoscaler

log = logging.getLogger("albfargate.engine")


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """Everything ``up`` resolved from its arguments, once."""

    model: SystemModel
    state_dir: Path
    run_settings: RunSettings | None = None
    stand_in: tuple[str, ...] = ()
    port_overrides: Mapping[int, int] = field(default_factory=dict)
    driver: str = "process"
    fast_scaling: bool = False
    host: str = "127.0.0.1"
    scaling_period_seconds: float | None = None  # None: 60 s, or 1 s with fast_scaling


def stand_in_matches(patterns: Sequence[str], c: ContainerDefinition) -> bool:
    """``--stand-in PATTERN`` is a glob on the container image or name; ``*`` matches every container."""
    return any(fnmatch.fnmatchcase(c.image, p) or fnmatch.fnmatchcase(c.name, p) for p in patterns)


def container_run_setting(c: ContainerDefinition, settings: RunSettings | None) -> ContainerRunSetting | None:
    """How the process driver starts ``c``: the run setting its deployed template carries (the task
    definition's Metadata, ``ContainerDefinition.run_setting``), else the app's (``settings``)."""
    if c.run_setting is not None:
        return from_template(c.name, c.run_setting)
    return settings.container(c.name) if settings is not None else None


def missing_run_settings(
    model: SystemModel, settings: RunSettings | None, stand_in: Sequence[str]
) -> list[str]:
    """One line per container that has neither a run setting nor a matching stand-in."""
    out = []
    for svc in model.services:
        td = model.task_definition(svc.task_definition_arn)
        if td is None:
            out.append(f"service {svc.name}: task definition {svc.task_definition_arn} not found")
            continue
        for c in td.containers:
            if stand_in_matches(stand_in, c):
                continue
            if c.run_setting is not None or (settings is not None and settings.container(c.name) is not None):
                continue
            where = f" in {settings.source}" if settings is not None and settings.source else ""
            out.append(
                f"container {c.name} (image {c.image}) of service {svc.name} has no local run setting{where} "
                f"and no --stand-in matches it: {_how_to_run(c.name, settings)}, or run the built-in echo "
                f"server for it with --stand-in {c.name} (all: --stand-in '*'), or its image with "
                f"--driver docker"
            )
    return out


def _how_to_run(container: str, settings: RunSettings | None) -> str:
    """What to write so that the process driver can run ``container`` (docs/run-settings.md)."""
    source = settings.source if settings is not None else None
    if source is not None and source.name == "cdk.json":
        return f'add containers.{container}.command to the "albfargate" context of {source}'
    target = source or (settings.app_dir / "albfargate.toml" if settings is not None else None)
    return f"add a [containers.{container}] command to {target or 'albfargate.toml beside cdk.json'}"


def resolve_driver(
    name: str, model: SystemModel, settings: RunSettings | None, stand_in: Sequence[str]
) -> str:
    """``auto`` -> ``process`` when run settings/stand-ins cover every container (the app was set up to
    run locally), else ``docker`` when an engine answers, else ``process`` (which then names what is
    missing); other names are returned as given. See docs/docker.md."""
    if name != "auto":
        return name
    if not missing_run_settings(model, settings, stand_in):
        return "process"
    try:
        from albfargate.ecs.runtime.docker import engine_available
    except ImportError:
        return "process"
    return "docker" if engine_available() else "process"


def remove_docker_orphans(state_dir: Path) -> int:
    """Remove the containers and network a crashed supervisor of ``state_dir`` left in Docker (by their
    ``albfargate.state-dir`` label; nothing else is touched). 0 without the docker package or an engine."""
    try:
        from albfargate.ecs.runtime.docker import remove_orphans
    except ImportError:
        return 0
    return remove_orphans(state_dir)


class Engine:
    def __init__(self, config: EngineConfig, *, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.model = config.model
        self.state_dir = config.state_dir.resolve()
        self.clock = clock
        self.store = Store(clock)
        self.driver: TaskDriver = self._make_driver(config.driver)
        # the process driver runs each task-definition revision in a snapshot of its run settings'
        # working directories (snapshots.py), so that a revision means the code it was made from
        self.code = (
            CodeSnapshots(self.state_dir, on_taken=self._snapshots_taken)
            if self.driver.name == "process"
            else None
        )
        self._prune_timer: asyncio.TimerHandle | None = None
        self.metadata = MetadataServer(self.store, host=config.host)
        self.lb: LoadBalancerRuntime | None = None  # once started (None without load balancers)
        self.scheduler: Scheduler | None = None
        self.autoscaler: Autoscaler | None = None
        self.api_url: str | None = None
        self.api_server: Any = None  # the AWS endpoint when start() was given serve_api
        self.console_url: str | None = None  # the web console's URL once the supervisor serves it
        self._lb_watchers: list[Callable[[Any], None]] = []  # on_load_balancers subscribers
        self.s3: S3Service | None = self._make_s3()  # None without the s3 extra
        self.notes: list[str] = []  # what `up` should tell the user (e.g. a port that moved); in status
        self.started_at: float | None = None
        #: when each start phase ended (``status --json`` ``startup``: where the time of ``up`` goes)
        self.startup: dict[str, float] = {}
        self._secrets: dict[str, str] | None = None
        self.backing: BackingManager | None = None  # when the model has backing resources
        self.ecr: EcrService | None = None  # once the AWS endpoint serves ECR
        self._change = asyncio.Event()
        self._stopping = False
        self._forced = False  # a second Ctrl-C: skip the drain, SIGKILL the tasks (force_stop)
        self._killer: asyncio.Task[None] | None = None

    def _make_driver(self, name: str) -> TaskDriver:
        name = resolve_driver(name, self.model, self.config.run_settings, self.config.stand_in)
        if name == "process":
            return ProcessDriver(self.state_dir)
        if name == "docker":
            try:
                from albfargate.ecs.runtime.docker import DockerDriver
            except ImportError:
                raise RuntimeStartError(
                    "--driver docker needs the docker Python package (pip install 'albfargate[docker]'); "
                    "or run without Docker: --driver process"
                ) from None
            return DockerDriver(self.state_dir)
        raise RuntimeStartError(f"unknown driver {name!r} (expected auto, process or docker)")

    def _make_s3(self) -> S3Service | None:
        from albfargate.backing import s3

        if not s3.available():
            if self.model.buckets:
                names = ", ".join(b.name for b in self.model.buckets)
                print(
                    f"albfargate: warning: S3 bucket(s) {names} are not served: the S3 library is not "
                    f"installed (pip install 'albfargate[s3]'); the rest runs",
                    file=sys.stderr,
                    flush=True,
                )
            return None
        return s3.S3Service(self.state_dir, self.model.buckets)

    # ---- start -----------------------------------------------------------------------------------
    async def start(self, *, serve_api: Callable[[Engine], Awaitable[Any]] | None = None) -> None:
        """``serve_api``, when given, starts the AWS endpoint for this engine (``api_url`` set) before any
        task starts; its result is stopped by :meth:`stop` once the tasks have stopped."""
        problems = (
            []
            if self.driver.name == "docker"  # the Docker driver runs the images themselves
            else missing_run_settings(self.model, self.config.run_settings, self.config.stand_in)
        )
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise RuntimeStartError(problems[0] + more)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        (self.state_dir / "logs").mkdir(exist_ok=True)
        self._load_store()
        if self.driver.name == "docker":  # what a crashed supervisor of this state dir left running
            await self.driver.cleanup_orphans(self.state_dir)
        self.startup = {"began_at": self.clock()}
        try:
            await self._start_backing()
            self._mark("backing")
            await self.metadata.start()
            if self.s3 is not None:
                await self.s3.start()
            self._mark("metadata_s3")
            if serve_api is not None:
                self.api_server = await serve_api(self)
            self._mark("api")
            if self.model.load_balancers:
                from albfargate.alb.runtime import LoadBalancerRuntime

                self.lb = LoadBalancerRuntime(
                    self.model,
                    state_dir=self.state_dir,
                    port_overrides=self.config.port_overrides,
                    host=self.config.host,
                    # access logs need alb/accesslog.py (pure formatter); run without them until it exists
                    access_logs=importlib.util.find_spec("albfargate.alb.accesslog") is not None,
                )
                await self.lb.start()
            self._mark("load_balancers")
            self.scheduler = Scheduler(
                self.store,
                self.driver,
                build_spec=self.build_spec,
                targets=self.lb.targets if self.lb is not None else None,
                target_groups={tg.arn: tg for tg in self.model.target_groups},
                clock=self.clock,
                on_change=self._changed,
                served=self.serves_target_group,
                prepare=self._prepare_launch,
                on_rollback_failed=self._rollback_failed,
            )
            self.scheduler.start()
            self._start_autoscaler()
            self._mark("scheduler")
        except BaseException:
            await self._teardown()
            raise
        self.started_at = self.clock()

    def _mark(self, phase: str) -> None:
        """``startup[<phase>_s]``: seconds from the start of :meth:`start` to the end of ``phase``."""
        self.startup[f"{phase}_s"] = round(self.clock() - self.startup["began_at"], 3)

    async def _start_backing(self) -> None:
        """Databases, secrets and parameters, before anything that may use them (backing/manager.py);
        imported only when the model has any, so an app without them starts as fast as before."""
        databases = ("AWS::RDS::DBInstance", "AWS::RDS::DBCluster")
        if not (self.model.has_backing or any(n.type in databases for n in self.model.not_emulated)):
            return
        from albfargate.backing.manager import BackingManager

        self.backing = BackingManager(self.model, self.state_dir, host=self.config.host)
        await self.backing.start()

    async def ensure_load_balancers(self) -> None:
        """Start the load balancers' runtime when the system started without any (``up --empty``, or an
        app without a load balancer): one made later through the API or CloudFormation needs it. The
        scheduler registers targets with it from then on."""
        if self.lb is not None or self._stopping:
            return
        from albfargate.alb.runtime import LoadBalancerRuntime

        lb = LoadBalancerRuntime(
            self.model,
            state_dir=self.state_dir,
            port_overrides=self.config.port_overrides,
            host=self.config.host,
            access_logs=importlib.util.find_spec("albfargate.alb.accesslog") is not None,
        )
        await lb.start()
        self.lb = lb
        if self.scheduler is not None:
            self.scheduler.targets = lb.targets
        for cb in list(self._lb_watchers):
            cb(lb)

    def on_load_balancers(self, callback: Callable[[Any], None]) -> None:
        """``callback(runtime)`` with the load balancers' runtime (``alb.runtime.LoadBalancerRuntime``): at
        once when it runs, else when it starts (``ensure_load_balancers``): the console subscribes to its
        change notifications through this."""
        self._lb_watchers.append(callback)
        if self.lb is not None:
            callback(self.lb)

    def serves_target_group(self, target_group_arn: str) -> bool:
        """Whether a local listener (an application load balancer's HTTP/HTTPS listener) forwards to the
        group now. The scheduler asks on every reconcile, so every target group an ECS service uses gates
        its deployments whenever the group, the listener or the rule was made (at start, through the API or
        CloudFormation); a group no local listener serves (a network LB's) does not (spec §7.3)."""
        return self.lb is not None and bool(self.lb.targets.in_use(target_group_arn))

    @property
    def targets(self) -> LiveTargets | None:
        """The load balancers' target registry, None until they run (the autoscaler's ``ScalingHost``)."""
        return None if self.lb is None else self.lb.targets

    def start_autoscaler(self) -> None:
        """Start the autoscaler when scalable targets appear later (Application Auto Scaling API)."""
        if self.autoscaler is None:
            self._start_autoscaler()

    def _start_autoscaler(self) -> None:
        if not self.model.scalable_targets:
            return
        from albfargate.ecs.autoscaler import Autoscaler

        period = self.config.scaling_period_seconds
        if period is None:
            period = 1.0 if self.config.fast_scaling else 60.0
        self.autoscaler = Autoscaler(self, period_seconds=period)
        self.autoscaler.start()

    def _load_store(self) -> None:
        now = self.clock()
        for td in self.model.task_definitions:
            self.store.register_task_definition(td)
            self._snapshot(td)
        for svc in self.model.services:
            self._add_service(svc, now)

    def _add_service(self, svc: Service, now: float) -> ServiceRecord:
        rec = ServiceRecord(
            name=svc.name,
            arn=svc.arn,
            cluster=svc.cluster_name,
            cluster_arn=svc.cluster_arn,
            model=svc,
            task_definition_arn=svc.task_definition_arn,
            desired_count=svc.desired_count,
            created_at=now,
        )
        dep_id = new_deployment_id()
        rec.deployments.append(
            DeploymentRecord(
                id=dep_id,
                status="PRIMARY",
                task_definition_arn=svc.task_definition_arn,
                desired_count=svc.desired_count,
                created_at=now,
                updated_at=now,
                rollout_state_reason=f"ECS deployment {dep_id} in progress.",
                launch_type=svc.launch_type,
                platform_version=svc.platform_version,
            )
        )
        return self.store.add_service(rec)

    # ---- task specs (run settings, stand-ins, ports, env, secrets) -----------------------------------
    def _secret_values(self) -> dict[str, str]:
        if self._secrets is None:
            rs = self.config.run_settings
            path = rs.secrets_file if rs is not None else None
            self._secrets = load_secret_values(path) if path is not None and path.is_file() else {}
        return self._secrets

    def _task_environment(self, c: ContainerDefinition) -> tuple[dict[str, str], list[str]]:
        """A container's ``Environment`` with every reference resolved (database endpoints, dynamic
        references) and its ``Secrets``: the local secrets file wins when it names a value (an override),
        else the local Secrets Manager / Parameter Store (backing/). Anything unresolvable stops the task
        with ECS's ResourceInitializationError and the reason; a placeholder never reaches a task."""
        from albfargate.model.backing import ENDPOINT_PREFIX

        env: dict[str, str] = {}
        for name, value in c.environment:
            if "{{resolve:" in value or ENDPOINT_PREFIX in value:
                if self.backing is None:
                    raise TaskStartError(
                        f"ResourceInitializationError: environment variable {name}: the reference in it "
                        f"cannot be resolved (no local backing resources)"
                    )
                from albfargate.backing.references import Unresolved

                try:
                    value = self.backing.resolve_text(value)
                except Unresolved as exc:
                    raise TaskStartError(
                        f"ResourceInitializationError: environment variable {name}: {exc}"
                    ) from None
            env[name] = value
        secret_names: list[str] = []
        if c.secrets:
            values = self._secret_values()
            for s in c.secrets:
                v = secret_value(values, name=s.name, value_from=s.value_from)
                if v is None and self.backing is not None:
                    from albfargate.backing.references import Unresolved

                    try:
                        v = self.backing.task_secret(s.value_from)
                    except Unresolved as exc:
                        raise TaskStartError(
                            f"ResourceInitializationError: unable to retrieve secret {s.name} "
                            f"(valueFrom {s.value_from}): {exc}"
                        ) from None
                if v is None:
                    settings = self.config.run_settings
                    where = (
                        str(settings.secrets_file)
                        if settings is not None and settings.secrets_file
                        else "the local secrets file"
                    )
                    raise TaskStartError(
                        f"ResourceInitializationError: unable to retrieve secret {s.name} "
                        f"(valueFrom {s.value_from}): no local value in {where}"
                    )
                env[s.name] = v
                secret_names.append(s.name)
        return env, secret_names

    def _ports_in_use(self) -> frozenset[int]:
        used = {
            lp
            for t in self.store.tasks.values()
            if t.last_status != "STOPPED"
            for c in t.containers
            for _, lp in c.ports
        }
        if self.lb is not None:
            used |= {b.local_port for b in self.lb.bindings()}
        used.add(self.metadata.port)
        return frozenset(used)

    def build_spec(self, td: TaskDefinition, task_id: str, service: str | None) -> TaskSpec:
        cluster = "default"
        if service is not None:
            svc = self.store.service(service)
            if svc is not None:
                cluster = svc.cluster
        in_use = set(self._ports_in_use())
        containers = []
        for c in td.containers:
            ports: list[tuple[int, int]] = []
            for pm in c.port_mappings:
                if any(cp == pm.container_port for cp, _ in ports):
                    continue
                lp = free_port(self.config.host, frozenset(in_use))
                in_use.add(lp)
                ports.append((pm.container_port, lp))
            containers.append(self._container_spec(c, task_id, service, tuple(ports), td.arn))
        return TaskSpec(
            task_id=task_id,
            task_arn=ids.task_arn(cluster, task_id),
            cluster=cluster,
            family=td.family,
            revision=td.revision,
            containers=tuple(containers),
            log_dir=self.state_dir / "logs" / (service or f"task-{td.family}"),
            service=service,
            metadata_uri=self.metadata.base_url,
            forward_ports=self._forward_ports(),
        )

    def _forward_ports(self) -> tuple[int, ...]:
        """The host loopback ports a task reaches on its own 127.0.0.1: the metadata and credentials
        endpoint, the AWS endpoint and the running databases (the Docker driver forwards them into the
        task's namespace)."""
        ports = [self.metadata.port]
        if self.api_server is not None and getattr(self.api_server, "port", None):
            ports.append(int(self.api_server.port))
        if self.backing is not None:  # the databases: DB_HOST=127.0.0.1 holds in a container too
            ports += [
                int(st.port) for st in self.backing.statuses.values() if st.port and st.state == "running"
            ]
        return tuple(sorted({p for p in ports if p}))

    def _container_spec(
        self,
        c: ContainerDefinition,
        task_id: str,
        service: str | None,
        ports: tuple[tuple[int, int], ...],
        td_arn: str = "",
    ) -> ContainerSpec:
        env, secret_names = self._task_environment(c)
        in_docker = self.driver.name == "docker"  # the image runs as is: no run setting, stand-in or $PORT
        stand_in = stand_in_matches(self.config.stand_in, c) and not in_docker
        rs = container_run_setting(c, self.config.run_settings)
        port_env: str | None = "PORT"
        health: ContainerHealthCheck | None = c.health_check
        argv: tuple[str, ...]
        if in_docker:
            argv, workdir, port_env = (), None, None
        elif stand_in:
            argv = (
                sys.executable,
                "-m",
                "albfargate.ecs.standin",
                "--service",
                service or "",
                "--task",
                task_id,
                "--container",
                c.name,
            )
            for _, lp in ports:
                argv += ("--port", str(lp))
            workdir = None
            if health is not None and ports:
                # the template's check probes the real image; a stand-in is probed on its own port instead,
                # with a start period of at least one interval so that it is probed (and HEALTHY) at once
                health = replace(
                    health,
                    start_period_seconds=max(health.start_period_seconds, health.interval_seconds),
                    command=(
                        "CMD",
                        sys.executable,
                        "-m",
                        "albfargate.ecs.standin",
                        "--probe",
                        str(ports[0][1]),
                    ),
                )
            elif health is not None:
                health = None
        elif rs is not None:
            argv = rs.argv
            code = self.code.workdir(td_arn, rs.workdir) if self.code is not None and rs.snapshot else None
            workdir = str(code or rs.workdir)
            env.setdefault("ALBFARGATE_PYTHON", sys.executable)  # a run setting may start the same Python
            env.update(rs.env)
            port_env = rs.port_env
        else:
            raise TaskStartError(
                f"CannotStartContainerError: container {c.name} has no local run setting and no --stand-in"
            )
        if ports and port_env:
            env[port_env] = str(ports[0][1])
        for cp, lp in ports if not in_docker else ():
            env[f"ALBFARGATE_PORT_{cp}"] = str(lp)
        if not in_docker or getattr(self.driver, "forwards_loopback", False):
            # a container reaches the host's loopback endpoint through the driver's forwarder
            env["ECS_CONTAINER_METADATA_URI_V4"] = self.metadata.uri_for(task_id, c.name)
        env.setdefault("AWS_REGION", ids.LOCAL_REGION)
        env.setdefault("AWS_DEFAULT_REGION", ids.LOCAL_REGION)
        env["AWS_EXECUTION_ENV"] = "AWS_ECS_FARGATE"
        secret_names.extend(self._aws_environment(env, task_id))
        return ContainerSpec(
            name=c.name,
            image=c.image,
            argv=argv,
            env=tuple(env.items()),
            workdir=workdir,
            ports=ports,
            essential=c.essential,
            health_check=health,
            depends_on=c.depends_on,
            stop_timeout=float(c.effective_stop_timeout),
            start_timeout=float(c.start_timeout_seconds) if c.start_timeout_seconds else None,
            secret_names=tuple(secret_names),
            stand_in=stand_in,
            definition=c,
        )

    def _aws_environment(self, env: dict[str, str], task_id: str) -> list[str]:
        """What a task needs to call AWS locally with no code change: ``AWS_ENDPOINT_URL`` (the running
        AWS endpoint; a value from the template or run setting wins, it is the app's) and task-role
        credentials through the ECS credentials endpoint (``AWS_CONTAINER_CREDENTIALS_FULL_URI`` and
        ``AWS_CONTAINER_AUTHORIZATION_TOKEN``, always set by us as ECS sets them). Returns the names whose
        values must never be shown."""
        if self.api_url:
            env.setdefault("AWS_ENDPOINT_URL", self.api_url)
        creds = self.metadata.credentials_for(task_id)
        env.pop("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", None)
        env.pop("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", None)
        env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = self.metadata.credentials_uri(creds)
        env["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = creds.token
        return ["AWS_CONTAINER_AUTHORIZATION_TOKEN"]

    # ---- notifications -------------------------------------------------------------------------------
    def _changed(self) -> None:
        self._change.set()
        if self.code is not None and self._prune_timer is None and not self._stopping:
            with contextlib.suppress(RuntimeError):  # no loop: nothing to prune yet
                self._prune_timer = asyncio.get_running_loop().call_later(1.0, self._prune_snapshots)

    # ---- code snapshots (process driver; snapshots.py) -----------------------------------------------
    def _code_sources(self, td: TaskDefinition) -> list[Path]:
        """The working directories a revision's containers run in from their run settings (stand-ins and
        ``snapshot = false`` run settings have none to snapshot)."""
        settings = self.config.run_settings
        if settings is None:
            return []
        out = []
        for c in td.containers:
            rs = settings.container(c.name)
            if rs is not None and rs.snapshot and not stand_in_matches(self.config.stand_in, c):
                out.append(rs.workdir)
        return out

    def _snapshot(self, td: TaskDefinition) -> None:
        """A revision is registered: snapshot its code now (in a worker thread)."""
        if self.code is not None:
            self.code.begin(td.arn, self._code_sources(td))

    async def _prepare_launch(self, td: TaskDefinition) -> None:
        """Before a task of ``td`` is built: its revision's snapshots are taken."""
        if self.code is not None:
            self.code.begin(td.arn, self._code_sources(td))  # a no-op when registered through us
            await self.code.ready(td.arn)

    def _snapshots_taken(self, td_arn: str, snaps: dict[Path, Snapshot]) -> None:
        for s in snaps.values():
            if s.problem:
                td = self.store.task_definitions.get(td_arn)
                name = f"{td.family}:{td.revision}" if td is not None else td_arn
                print(
                    f"albfargate: warning: task definition {name} runs the live files of {s.source}: it is "
                    f"not snapshotted ({s.problem}), so a rollback to it cannot restore this code "
                    f"(docs/run-settings.md, code snapshots)",
                    file=sys.stderr,
                    flush=True,
                )
        self._changed()

    def _prune_snapshots(self) -> None:
        """Delete the snapshots of revisions no deployment, live task or rollback target uses."""
        self._prune_timer = None
        if self.code is None or self._stopping:
            return
        from albfargate.snapshot_rules import kept_revisions

        services = list(self.store.services.values())
        kept = kept_revisions(
            deployments=(d.task_definition_arn for s in services for d in s.deployments),
            live_tasks=(
                t.task_definition_arn for t in self.store.tasks.values() if t.last_status != "STOPPED"
            ),
            last_completed=(s.last_completed_task_definition for s in services),
            registered=((td.family, td.revision, td.arn) for td in self.store.task_definitions.values()),
        )
        self.code.prune_soon(kept)

    def _rollback_failed(self, svc: ServiceRecord, dep: DeploymentRecord) -> None:
        """A rollback deployment failed too: it is not rolled back again (the planner); say so once."""
        td = self.store.task_definitions.get(dep.task_definition_arn)
        name = f"{td.family}:{td.revision}" if td is not None else dep.task_definition_arn
        problems = self.code.problems(dep.task_definition_arn) if self.code is not None else []
        settings = self.config.run_settings
        for c in td.containers if td is not None and settings is not None else ():
            rs = settings.container(c.name) if settings is not None else None
            if rs is not None and not rs.snapshot and not stand_in_matches(self.config.stand_in, c):
                problems.append(
                    f"container {c.name} runs {rs.workdir} live: snapshot = false in its run setting"
                )
        why = (
            f"its code could not be restored ({'; '.join(problems)}), so it ran the current files"
            if problems
            else f"its tasks failed too (albfargate logs {svc.name})"
        )
        line = (
            f"service {svc.name}: the rollback to {name} failed: {why}. It is not rolled back again: fix "
            f"the app and deploy again (with --watch, saving the fix deploys it)"
        )
        self.notes.append(line)
        print(f"albfargate: error: {line}", file=sys.stderr, flush=True)

    async def wait_change(self, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._change.wait(), timeout)
        self._change.clear()

    # ---- API-facing operations ------------------------------------------------------------------------
    def _sched(self) -> Scheduler:
        if self.scheduler is None:
            raise RuntimeStartError("the engine is not running")
        return self.scheduler

    def _svc(self, name: str) -> ServiceRecord:
        svc = self.store.service(name)
        if svc is None or svc.status == "INACTIVE":
            known = ", ".join(sorted(self.store.services)) or "none"
            raise KeyError(f"service {name} not found (services: {known})")
        return svc

    def update_desired_count(self, service: str, count: int) -> None:
        self.update_service(service, desired_count=count)

    def force_new_deployment(self, service: str) -> DeploymentRecord:
        svc = self._svc(service)
        return self._sched().new_deployment(svc.name)

    def update_target_group(self, tg: TargetGroup) -> None:
        """One command: a target group's new settings replace the old ones in the model (a load balancer
        runtime started later knows them) and in the scheduler (the deregistration delay of its drains).
        The running load balancers' change is the caller's (``LoadBalancerRuntime.update_target_group``,
        applied after any listener binds still under way)."""
        others = tuple(x for x in self.model.target_groups if x.arn != tg.arn)
        self.model = replace(self.model, target_groups=(*others, tg))
        if self.scheduler is not None:
            self.scheduler.update_target_group(tg)

    # The configuration made through the API: each command replaces the model once (what a load balancer
    # runtime or autoscaler started later reads); the running load balancers' own change is the caller's.
    def add_load_balancer_config(self, lb: LoadBalancer) -> None:
        if all(x.arn != lb.arn for x in self.model.load_balancers):
            self.model = replace(self.model, load_balancers=(*self.model.load_balancers, lb))

    def put_listener_config(self, listener: Listener) -> None:
        others = tuple(x for x in self.model.listeners if x.arn != listener.arn)
        self.model = replace(self.model, listeners=(*others, listener))

    def remove_listener_config(self, listener_arn: str) -> None:
        """The listener and its rules."""
        self._drop_listeners({listener_arn}, self.model.load_balancers)

    def remove_load_balancer_config(self, lb_arn: str) -> None:
        """The load balancer, its listeners and their rules."""
        gone = {x.arn for x in self.model.listeners if x.load_balancer_arn == lb_arn}
        self._drop_listeners(gone, tuple(x for x in self.model.load_balancers if x.arn != lb_arn))

    def _drop_listeners(self, gone: set[str], load_balancers: tuple[LoadBalancer, ...]) -> None:
        m = self.model
        self.model = replace(
            m,
            load_balancers=load_balancers,
            listeners=tuple(x for x in m.listeners if x.arn not in gone),
            rules=tuple(r for r in m.rules if r.listener_arn not in gone),
        )

    def set_scaling(
        self, targets: Sequence[ScalableTarget], policies: Sequence[TargetTrackingPolicy]
    ) -> None:
        """Application Auto Scaling's configuration replaces the model's (the autoscaler reads it on every
        tick); the autoscaler starts when the first scalable target appears in a running system."""
        self.model = replace(self.model, scalable_targets=tuple(targets), scaling_policies=tuple(policies))
        if self.autoscaler is None and targets and self.scheduler is not None:
            self.start_autoscaler()

    def ensure_backing(self, secrets: SecretStore, parameters: ParameterStore) -> BackingManager:
        """The backing manager, made on first use (a CloudFormation stack's first database in a system
        that had no backing resources) over the secret and parameter stores the AWS endpoint already
        serves; the one that started with the system otherwise."""
        if self.backing is None:
            from albfargate.backing.manager import BackingManager

            self.backing = BackingManager(
                self.model,
                self.state_dir,
                host=self.config.host,
                clock=self.clock,
                secrets=secrets,
                parameters=parameters,
            )
        return self.backing

    def register_task_definition(self, td: TaskDefinition) -> TaskDefinition:
        """Register ``td`` as the next revision of its family (arn/revision are assigned here)."""
        rev = self.store.next_revision(td.family)
        td = replace(td, revision=rev, arn=ids.task_definition_arn(td.family, rev))
        td = self.store.register_task_definition(td)
        self._snapshot(td)
        return td

    def update_service(
        self,
        service: str,
        *,
        task_definition: str | None = None,
        desired_count: int | None = None,
        force_new_deployment: bool = False,
        model: Service | None = None,
    ) -> ServiceRecord:
        """One command: everything is checked first (the service, the count, the task definition), then
        the scheduler applies it as one store change (:meth:`Scheduler.update_service`). ``model`` is the
        service's new definition (UpdateService's deployment configuration, load balancers ...)."""
        svc = self._svc(service)
        if desired_count is not None and desired_count < 0:
            raise ValueError("desired count must be >= 0")
        td_arn = None
        if task_definition is not None:
            td = self.store.task_definition(task_definition)
            if td is None:
                raise KeyError(f"task definition {task_definition} not found")
            td_arn = td.arn
        self._sched().update_service(
            svc.name,
            model=model,
            desired_count=desired_count,
            task_definition_arn=td_arn,
            force_new_deployment=force_new_deployment,
        )
        return svc

    def stop_task(self, task_id: str, reason: str | None = None) -> TaskRecord:
        rec = self.store.task(task_id)
        if rec is None:
            raise KeyError(f"task {task_id} not found")
        self._sched().stop_task(rec.task_id, StopCode.UserInitiated, user_stop_reason(reason), emit=True)
        return rec

    def run_task(
        self, task_definition: str, *, count: int = 1, cluster: str = "default", started_by: str | None = None
    ) -> list[TaskRecord]:
        td = self.store.task_definition(task_definition)
        if td is None:
            raise KeyError(f"task definition {task_definition} not found")
        return self._sched().run_task(td, count=count, cluster=cluster, started_by=started_by)

    def create_service(self, svc: Service) -> ServiceRecord:
        if self.store.service(svc.name) is not None and self._svc(svc.name).status == "ACTIVE":
            raise ValueError(f"service {svc.name} already exists")
        rec = self._add_service(svc, self.clock())
        self._sched().enqueue(rec.name)
        return rec

    def delete_service(self, service: str, *, force: bool = False) -> ServiceRecord:
        svc = self._svc(service)
        if svc.desired_count > 0 and not force:
            raise ValueError("the service cannot be stopped while it is scaled above 0")
        return self._sched().delete_service(svc.name)

    async def redeploy_from_model(self, model: SystemModel) -> list[str]:
        """``--watch``: the app changed. For every service of ``model`` that runs here, register its task
        definition as a new revision when it differs from the running one, or when the code under it
        changed (its working directories differ from the revision's snapshots), and roll to it; else force
        a new deployment (same revision, same code, restarted processes). One line per service."""
        out = []
        for new_svc in model.services:
            svc = self.store.service(new_svc.name)
            if svc is None or svc.status != "ACTIVE":
                continue
            new_td = model.task_definition(new_svc.task_definition_arn)
            current = self.store.task_definitions.get(svc.task_definition_arn)
            if new_td is not None and current is not None and new_td.containers != current.containers:
                td = self.register_task_definition(replace(new_td, family=current.family))
                self.update_service(svc.name, task_definition=td.arn)
                out.append(f"{svc.name}: new task definition {td.family}:{td.revision}")
            else:
                out.append(await self.redeploy(svc.name))
        return out

    async def redeploy(self, service: str) -> str:
        """``albfargate redeploy``: deploy what is on disk. A new revision (the same definition) when the
        code under the running one changed -- a revision means the code it was made from -- else a forced
        new deployment of the same revision. Returns one line saying which."""
        svc = self._svc(service)
        current = self.store.task_definitions.get(svc.task_definition_arn)
        if current is not None and self.code is not None:
            sources = self._code_sources(current)
            if sources and await self.code.changed(current.arn, sources):
                td = self.register_task_definition(current)
                self.update_service(svc.name, task_definition=td.arn)
                return f"{svc.name}: new task definition {td.family}:{td.revision} (the code changed)"
        dep = self.force_new_deployment(svc.name)
        return f"{svc.name}: new deployment {dep.id}"

    # ---- reading (built in engine_status.py) ----------------------------------------------------------
    def steady(self) -> tuple[bool, list[str]]:
        """Whether every ACTIVE service is steady (one deployment, COMPLETED, running == desired, all
        healthy); otherwise one line per service saying why not."""
        return engine_status.steady(self)

    def status(self, *, supervisor_pid: int | None = None, events: int = 10) -> dict[str, Any]:
        """The ``status --json`` document (a documented contract; keys may be added, not removed)."""
        return engine_status.status(self, supervisor_pid=supervisor_pid, events=events)

    def backing_status(self) -> dict[str, Any] | None:
        """``backing`` of ``status --json`` (names and endpoints; never a secret value)."""
        return engine_status.backing_status(self)

    async def refresh_orphans(self) -> None:
        """Look for orphans now (a /proc scan, off the event loop); ``status`` of the CLI asks for it."""
        find = getattr(self.driver, "find_orphans", None)
        if find is not None:
            with contextlib.suppress(Exception):
                await find()

    # ---- stop ------------------------------------------------------------------------------------------
    async def stop(self, on_stage: Callable[[str], None] | None = None) -> None:
        """The ordered shutdown; ``on_stage`` is told each stage as it begins (the CLI prints them)."""
        if self._stopping:
            return
        self._stopping = True
        await self._teardown(on_stage)

    def force_stop(self) -> None:
        """Cut the shutdown short (a second Ctrl-C): in-flight requests are cut instead of drained and
        every task is SIGKILLed now instead of after its stop timeout; the order of the rest is kept and
        nothing is left running."""
        if self._forced:
            return
        self._forced = True
        if self.lb is not None:
            self.lb.cut()
        self._killer = asyncio.get_running_loop().create_task(self._kill_tasks_now())

    async def _kill_tasks_now(self) -> None:
        stop_all = getattr(self.driver, "stop_all_now", None)
        if stop_all is None:
            return
        while True:  # again while the shutdown runs: a launch that was in flight may still finish
            with contextlib.suppress(Exception):
                await stop_all()
            if self.driver.name != "process":  # the Docker driver removes every container at once
                return
            await asyncio.sleep(0.25)

    def _stop_timeout(self) -> float:
        """The longest stop timeout of a live task's containers (how long stage 3 may take)."""
        longest = 0.0
        for t in self.store.tasks.values():
            td = self.store.task_definitions.get(t.task_definition_arn)
            if t.last_status != "STOPPED" and td is not None:
                longest = max([longest, *(float(c.effective_stop_timeout) for c in td.containers)])
        return longest

    async def _teardown(self, on_stage: Callable[[str], None] | None = None) -> None:
        def say(stage: str) -> None:
            if on_stage is not None:
                on_stage(stage)

        # (1) no new work
        say("no new tasks: the service schedulers and the autoscaler stop")
        if self.autoscaler is not None:
            with contextlib.suppress(Exception):
                await self.autoscaler.stop()
        sched = self.scheduler
        if sched is not None:
            sched.paused = True
            await sched.close()
        # (2) stop accepting; in-flight requests finish; targets leave
        if self.lb is not None:
            from albfargate.alb.proxy import STOP_GRACE

            say(
                "the load balancers stop accepting"
                + ("; in-flight requests are cut" if self._forced else f"; draining (up to {STOP_GRACE:g} s)")
            )
            try:
                await self.lb.stop(grace=0.0 if self._forced else STOP_GRACE)
            except Exception:
                log.exception("stopping the load balancers failed")
        # (3) stop every task: SIGTERM, stopTimeout, SIGKILL
        live = sum(1 for t in self.store.tasks.values() if t.last_status != "STOPPED")
        if live:
            say(
                f"stopping {live} task{'s' if live != 1 else ''}: "
                + ("SIGKILL now" if self._forced else f"SIGTERM, SIGKILL after {self._stop_timeout():g} s")
            )
        if sched is not None:
            try:
                await sched.stop_everything(drain=False)
            except Exception:
                log.exception("stopping tasks failed")
        stop_all = getattr(self.driver, "stop_all_now", None)
        if stop_all is not None:
            await stop_all()
        if self._killer is not None:
            self._killer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._killer
        aclose = getattr(self.driver, "aclose", None)  # the process driver's reaper and log pump
        if aclose is not None:
            try:
                await aclose()
            except Exception:
                log.exception("closing the task driver failed")
        if self._prune_timer is not None:
            self._prune_timer.cancel()
            self._prune_timer = None
        if self.code is not None:
            await self.code.close()
        # (4) close the rest: the AWS endpoint served the tasks until they stopped; the backing servers
        # stop last, after every task that used them
        if self.api_server is not None:
            try:
                await self.api_server.stop()
            except Exception:
                log.exception("stopping the AWS endpoint failed")
        if self.ecr is not None:  # the registry: every task that pulled from it has stopped
            try:
                await self.ecr.stop()
            except Exception:
                log.exception("stopping the local registry failed")
        if self.backing is not None or self.s3 is not None:
            say("the backing servers stop (databases, buckets)")
        if self.s3 is not None:
            await self.s3.stop()
        await self.metadata.stop()
        if self.backing is not None:
            try:
                await self.backing.stop()
            except Exception:
                log.exception("stopping the backing servers failed")
        self.store.close()
