"""The :class:`~albfargate.api.backend.Backend` over the running :class:`albfargate.engine.Engine`: reads
the live store (``engine.store``) and the load balancers' target registry (``engine.lb.targets``); writes
go through the engine's public methods and ``LoadBalancerRuntime``'s change methods. It knows the engine
only through the Protocols of ``api/ports.py`` (:class:`~albfargate.api.ports.EngineCommands`,
:class:`~albfargate.api.ports.ApiHost`).

Also :func:`start_api`, which the engine (or ``up``) calls to serve the endpoint and set ``api_url``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from albfargate.api.backend import (
    BackendError,
    ContainerRecord,
    DeploymentRecord,
    EventRecord,
    Health,
    LocalListener,
    ScalingActivity,
    ServiceRecord,
    ServiceUpdate,
    Target,
    TaskDefinitionRecord,
    TaskRecord,
)
from albfargate.model.autoscaling import ScalableTarget, TargetTrackingPolicy
from albfargate.model.ecs import Cluster, Service, TaskDefinition
from albfargate.model.elbv2 import (
    Action,
    Listener,
    LoadBalancer,
    LoadBalancerAttributes,
    Rule,
    TargetGroup,
)

if TYPE_CHECKING:  # the engine imports the API, never the other way round at run time
    from albfargate.api.ports import ApiHost, EngineCommands, ListenerChanges, LoadBalancers, TargetTable
    from albfargate.api.server import ApiServer
    from albfargate.model.targets import TargetHealth
    from albfargate.state import store as live


_log = logging.getLogger(__name__)


def _health(h: TargetHealth) -> Health:
    return Health(str(h.state), h.reason, h.description)


class EngineBackend:
    """Adapts the engine to the API. All calls run on the engine's event loop."""

    def __init__(self, engine: EngineCommands) -> None:
        self.engine = engine
        self._extra_clusters: dict[str, Cluster] = {}
        self._deleted_clusters: set[str] = set()
        self._inactive_tds: dict[str, float] = {}
        self._registered_at: dict[str, float] = {}
        self._started = engine.started_at or time.time()
        self._chain: asyncio.Task[None] | None = None  # listener binds/unbinds, applied in call order

    # --- ECS reads ----------------------------------------------------------------------------------------
    def clusters(self) -> Sequence[Cluster]:
        out: dict[str, Cluster] = {c.arn: c for c in self.engine.model.clusters}
        for svc in self.engine.store.services.values():  # clusters named by services (e.g. imported ones)
            out.setdefault(svc.cluster_arn, Cluster(svc.cluster_arn, svc.cluster))
        out.update(self._extra_clusters)
        return [c for arn, c in out.items() if arn not in self._deleted_clusters]

    def task_definitions(self) -> Sequence[TaskDefinitionRecord]:
        return [self._task_definition(td) for td in self.engine.store.task_definitions.values()]

    def _task_definition(self, td: TaskDefinition) -> TaskDefinitionRecord:
        return TaskDefinitionRecord(
            td,
            "INACTIVE" if td.arn in self._inactive_tds else "ACTIVE",
            self._registered_at.get(td.arn, self._started),
            self._inactive_tds.get(td.arn),
        )

    # --- ECS reads by key: the store's index, one record projected --------------------------------------
    def service(self, cluster_arn_: str, ref: str) -> ServiceRecord | None:
        s = self.engine.store.service(ref)
        return self._service(s) if s is not None and s.cluster_arn == cluster_arn_ else None

    def task(self, cluster_arn_: str, ref: str) -> TaskRecord | None:
        t = self.engine.store.task(ref)  # by id, or by the id at the end of an ARN
        return self._task(t) if t is not None and t.cluster_arn == cluster_arn_ else None

    def task_definition(self, ref: str) -> TaskDefinitionRecord | None:
        store = self.engine.store
        if ref.startswith("arn:"):
            td = store.task_definitions.get(ref)
        else:
            family, _, rev = ref.partition(":")
            revs = store.revisions(family)
            if rev:
                td = revs.get(int(rev)) if rev.isdigit() else None
            else:
                active = [n for n, t in revs.items() if t.arn not in self._inactive_tds]
                td = revs[max(active)] if active else None
        return None if td is None else self._task_definition(td)

    def latest_revision(self, family: str) -> int:
        return max(self.engine.store.revisions(family), default=0)

    def services(self) -> Sequence[ServiceRecord]:
        return [self._service(s) for s in self.engine.store.services.values()]

    @staticmethod
    def _service(s: live.ServiceRecord) -> ServiceRecord:
        model = replace(s.model, desired_count=s.desired_count, task_definition_arn=s.task_definition_arn)
        deployments = tuple(
            DeploymentRecord(
                id=d.id,
                status=d.status,
                task_definition_arn=d.task_definition_arn,
                desired_count=d.desired_count,
                created_at=d.created_at,
                updated_at=d.updated_at,
                running_count=d.running_count,
                pending_count=d.pending_count,
                failed_tasks=d.failed_tasks,
                rollout_state=d.rollout_state,
                rollout_state_reason=d.rollout_state_reason or None,
            )
            for d in s.deployments
        )
        events = tuple(EventRecord(e.id, e.created_at, e.message) for e in s.events)
        return ServiceRecord(
            model, s.status, s.created_at, s.running_count, s.pending_count, deployments, events
        )

    def tasks(self) -> Sequence[TaskRecord]:
        return [self._task(t) for t in self.engine.store.tasks.values()]

    @staticmethod
    def _task(t: live.TaskRecord) -> TaskRecord:
        containers = tuple(
            ContainerRecord(
                name=c.name,
                image=c.image,
                container_arn=c.container_arn,
                last_status=c.last_status,
                exit_code=c.exit_code,
                reason=c.reason,
                health_status=c.health_status,
                runtime_id=str(c.pid) if c.pid is not None else None,
                essential=c.essential,
                ports=c.ports,
            )
            for c in t.containers
        )
        return TaskRecord(
            arn=t.task_arn,
            task_id=t.task_id,
            cluster_arn=t.cluster_arn,
            task_definition_arn=t.task_definition_arn,
            last_status=t.last_status,
            desired_status=t.desired_status,
            created_at=t.created_at,
            containers=containers,
            health_status=t.health_status,
            group=t.group,
            started_by=t.started_by,
            cpu=str(t.cpu) if t.cpu is not None else None,
            memory=str(t.memory) if t.memory is not None else None,
            private_ip=t.targets[0].host if t.targets else "127.0.0.1",
            pull_started_at=t.pull_started_at,
            pull_stopped_at=t.pull_stopped_at,
            started_at=t.started_at,
            stopping_at=t.stopping_at,
            stopped_at=t.stopped_at,
            execution_stopped_at=t.execution_stopped_at,
            stop_code=t.stop_code,
            stopped_reason=t.stopped_reason,
            version=t.version,
        )

    # --- ECS writes ---------------------------------------------------------------------------------------
    def create_cluster(self, cluster: Cluster) -> None:
        self._deleted_clusters.discard(cluster.arn)
        self._extra_clusters[cluster.arn] = cluster

    def delete_cluster(self, cluster_arn_: str) -> None:
        self._extra_clusters.pop(cluster_arn_, None)
        self._deleted_clusters.add(cluster_arn_)

    def register_task_definition(self, definition: TaskDefinition) -> None:
        td = self.engine.register_task_definition(definition)
        self._registered_at[td.arn] = time.time()

    def deregister_task_definition(self, arn: str) -> None:
        self._inactive_tds[arn] = time.time()

    def _name(self, service_arn: str) -> str:
        svc = self.engine.store.service(service_arn)
        if svc is None:
            raise BackendError("ServiceNotFoundException", "Service not found.")
        return svc.name

    def update_service(self, service_arn: str, update: ServiceUpdate) -> None:
        """One engine command (one store change): the adapter reads the record and never writes it."""
        svc = self.engine.store.service(service_arn)
        if svc is None:
            raise BackendError("ServiceNotFoundException", "Service not found.")
        model = update.apply(svc.model)
        try:
            self.engine.update_service(
                svc.name,
                task_definition=update.task_definition_arn,
                desired_count=update.desired_count,
                force_new_deployment=update.force_new_deployment,
                model=model if model != svc.model else None,
            )
        except (KeyError, ValueError) as exc:
            raise BackendError("InvalidParameterException", str(exc).strip("'\"")) from None

    def create_service(self, service: Service) -> None:
        try:
            self.engine.create_service(service)
        except (KeyError, ValueError) as exc:
            raise BackendError("InvalidParameterException", str(exc).strip("'\"")) from None

    def delete_service(self, service_arn: str, *, force: bool) -> None:
        try:
            self.engine.delete_service(self._name(service_arn), force=force)
        except (KeyError, ValueError) as exc:
            raise BackendError("InvalidParameterException", str(exc).strip("'\"")) from None

    def stop_task(self, task_arn: str, reason: str) -> None:
        try:
            self.engine.stop_task(task_arn.rsplit("/", 1)[-1], reason)
        except KeyError:
            raise BackendError("InvalidParameterException", "The referenced task was not found.") from None

    def run_task(
        self,
        cluster_arn_: str,
        task_definition_arn: str,
        *,
        count: int,
        started_by: str | None,
        group: str | None,
    ) -> list[str]:
        cluster = cluster_arn_.rsplit("/", 1)[-1]
        try:
            records = self.engine.run_task(
                task_definition_arn, count=count, cluster=cluster, started_by=started_by
            )
        except KeyError as exc:
            raise BackendError("ClientException", str(exc).strip("'\"")) from None
        return [r.task_arn for r in records]

    # --- ELBv2 data plane ---------------------------------------------------------------------------------
    def _targets(self) -> TargetTable | None:
        return None if self.engine.lb is None else self.engine.lb.targets

    def describe_targets(self, target_group_arn: str) -> list[tuple[Target, Health]]:
        reg = self._targets()
        if reg is None:
            return []
        try:
            described = reg.describe(target_group_arn)
        except KeyError:
            return []
        return [(Target(t.id, t.port), _health(h)) for t, h in described]

    def health_of(self, target_group_arn: str, target: Target) -> Health:
        from albfargate.model.targets import TargetId

        reg = self._targets()
        if reg is None:
            return Health("unused", "Target.NotRegistered", "Target is not registered to the target group")
        try:
            return _health(reg.health_of(target_group_arn, TargetId(target.id, target.port)))
        except KeyError:
            return Health("unused", "Target.NotRegistered", "Target is not registered to the target group")

    def register_target(self, target_group_arn: str, target: Target) -> None:
        from albfargate.model.targets import TargetId

        reg = self._targets()
        if reg is None:
            raise BackendError("InvalidTarget", "No load balancer is running locally")
        reg.register(target_group_arn, TargetId(target.id, target.port))

    def deregister_target(self, target_group_arn: str, target: Target) -> None:
        from albfargate.model.targets import TargetId

        reg = self._targets()
        if reg is not None:
            reg.deregister(target_group_arn, TargetId(target.id, target.port))

    def _on_runtime(self, change: Callable[[LoadBalancers], None]) -> None:
        """Apply ``change`` to the load balancers' runtime now -- or, while listener binds are still being
        applied (a listener just created, a runtime starting), after them, so a rule made right after its
        listener is not lost."""
        if self._chain is not None and not self._chain.done():

            async def later() -> None:
                if self.engine.lb is not None:
                    change(self.engine.lb)

            self._later(later)
        elif self.engine.lb is not None:
            change(self.engine.lb)

    def set_rules(self, listener_arn: str, rules: Sequence[Rule]) -> None:
        rules = tuple(rules)
        self._on_runtime(lambda lb: lb.set_rules(listener_arn, rules))

    def set_default_actions(self, listener_arn: str, actions: Sequence[Action]) -> None:
        actions = tuple(actions)
        self._on_runtime(lambda lb: lb.set_default_actions(listener_arn, actions))

    def update_target_group(self, target_group: TargetGroup) -> None:
        """One engine command (the model and the scheduler's view), then the running load balancers."""
        self.engine.update_target_group(target_group)
        self._on_runtime(lambda lb: lb.update_target_group(target_group))

    def update_load_balancer_attributes(self, lb_arn: str, attributes: LoadBalancerAttributes) -> None:
        self._on_runtime(lambda lb: lb.update_load_balancer_attributes(lb_arn, attributes))

    # --- load balancers and listeners created/deleted through the API -------------------------------------
    def _runtime(self, what: str) -> ListenerChanges:
        """The load balancers' runtime; a system that started without any gets one now (an empty
        ``up``, then a load balancer made through the API or CloudFormation)."""
        lb = self.engine.lb
        if lb is None:
            ensure = getattr(self.engine, "ensure_load_balancers", None)
            if ensure is None or self.engine.scheduler is None:
                raise BackendError(
                    "OperationNotPermitted",
                    f"{what}: no local load balancer is running (the app defines none); add one to the "
                    "CDK app",
                )
            return _LazyRuntime(self, ensure)
        if getattr(lb, "workers", 1) > 1:
            raise BackendError(
                "OperationNotPermitted",
                f"{what} is not supported with --workers {lb.workers} (the worker processes bind their "
                "listeners at start); run `albfargate up` with one worker to change listeners",
            )
        return lb

    def _later(self, make: Callable[[], Awaitable[object]]) -> None:
        """Run ``make()`` on the loop after every change scheduled before it (binds and unbinds are
        async; the API answers at once and the change lands in call order)."""
        prev = self._chain

        async def run() -> None:
            if prev is not None:
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await prev
            try:
                await make()
            except Exception:
                _log.exception("load balancer change failed")

        self._chain = asyncio.get_running_loop().create_task(run())

    async def settle(self) -> None:
        """Wait until every scheduled listener change has been applied (tests, status)."""
        while self._chain is not None and not self._chain.done():
            await asyncio.wait({self._chain})

    def add_load_balancer(self, lb: LoadBalancer) -> None:
        runtime = self._runtime("Creating a load balancer")
        self.engine.add_load_balancer_config(lb)
        self._later(lambda: runtime.add_load_balancer(lb))

    def add_listener(self, listener: Listener, rules: Sequence[Rule]) -> None:
        runtime = self._runtime("Creating a listener")
        self.engine.put_listener_config(listener)
        rules = tuple(rules)
        self._later(lambda: runtime.add_listener(listener, rules))

    def remove_listener(self, listener_arn: str) -> None:
        runtime = self._runtime("Deleting a listener")
        self.engine.remove_listener_config(listener_arn)
        self._later(lambda: runtime.remove_listener(listener_arn))

    def remove_load_balancer(self, lb_arn: str) -> None:
        runtime = self._runtime("Deleting a load balancer")
        self.engine.remove_load_balancer_config(lb_arn)
        self._later(lambda: runtime.remove_load_balancer(lb_arn))

    def local_listeners(self) -> list[LocalListener]:
        engine = self.engine
        if engine.lb is None:
            return []
        dns = {lb.arn: lb.dns_name for lb in engine.model.load_balancers}
        return [
            LocalListener(dns[b.lb_arn], b.protocol, b.port, b.local_port)
            for b in engine.lb.bindings()
            if b.lb_arn in dns
        ]

    # --- Application Auto Scaling -------------------------------------------------------------------------
    def set_scaling(
        self, targets: Sequence[ScalableTarget], policies: Sequence[TargetTrackingPolicy]
    ) -> None:
        """One engine command: the model's scalable targets and policies, and the autoscaler started if
        it was not running."""
        self.engine.set_scaling(targets, policies)

    def scaling_activities(self) -> Sequence[ScalingActivity]:
        out = []
        for a in getattr(self.engine.autoscaler, "activities", None) or []:
            start = float(getattr(a, "start_time", 0.0))
            resource = str(getattr(a, "resource_id", ""))
            activity_id = getattr(a, "activity_id", None) or uuid.uuid5(
                uuid.NAMESPACE_URL, f"{resource}#{start}"
            )
            out.append(
                ScalingActivity(
                    activity_id=str(activity_id),
                    resource_id=resource,
                    description=str(getattr(a, "description", "")),
                    cause=str(getattr(a, "cause", "")),
                    start_time=start,
                    end_time=getattr(a, "end_time", None) or start,
                    status_code=str(getattr(a, "status_code", "Successful")),
                )
            )
        return out


class _LazyRuntime:
    """Stands for the load balancers' runtime of a system that has none yet: the first change starts it
    (in the chain of changes, so every later one sees it)."""

    def __init__(self, backend: EngineBackend, ensure: Callable[[], Awaitable[object]]) -> None:
        self.backend = backend
        self.ensure = ensure
        backend._later(ensure)

    def __getattr__(self, name: str) -> Any:
        async def call(*args: Any, **kw: Any) -> Any:
            return await getattr(self.backend.engine.lb, name)(*args, **kw)

        return call


async def start_api(
    engine: ApiHost, *, port: int = 4566, host: str = "127.0.0.1", exact: bool = False
) -> ApiServer:
    """Serve the AWS-compatible endpoint for ``engine`` (port 4566 or the next free one; with ``exact``
    that port or an error); sets ``engine.api_url``. The caller stops it (``await server.stop()``) before
    tearing the engine down."""
    from albfargate.api.server import ApiServer
    from albfargate.api.store import ConfigStore

    backing = engine.backing
    if backing is not None:
        secrets, parameters = backing.secrets, backing.parameters
    else:  # an app without backing resources: secrets and parameters made through the API are kept too
        from albfargate.backing.store import ParameterStore, SecretStore

        data = engine.state_dir / "data"
        secrets = SecretStore(data / "secretsmanager" / "secrets.json", clock=engine.clock)
        parameters = ParameterStore(data / "ssm" / "parameters.json", clock=engine.clock)
    from albfargate.api.ecr.provider import TYPE as ECR_REPOSITORY
    from albfargate.api.ecr.provider import RepositoryProvider
    from albfargate.api.ecr.service import EcrService
    from albfargate.cfn import providers

    ecr = EcrService(engine.state_dir, clock=engine.clock)
    engine.ecr = ecr  # stopped with the engine, after its tasks
    images = getattr(engine.driver, "images", None)
    if images is not None:  # the Docker driver runs images of local repositories from the registry
        images.local_image = ecr.local_image
    providers.register(ECR_REPOSITORY, RepositoryProvider())
    await ecr.start()
    server = ApiServer(
        EngineBackend(engine),
        ConfigStore(engine.model),
        host=host,
        port=port,
        secrets=secrets,
        parameters=parameters,
        s3=getattr(engine, "s3", None),
        port_search=not exact,
    )
    from albfargate.api.cloudformation.service import attach

    server.dispatcher.context.ecr = ecr
    server.dispatcher.context.databases = lambda: engine.ensure_backing(secrets, parameters)
    from albfargate.api.rds.provider import register as register_databases

    register_databases()
    attach(server, state_dir=engine.state_dir, model_stacks=tuple(engine.model.stacks), s3=engine.s3)
    engine.api_url = await server.start()
    return server
