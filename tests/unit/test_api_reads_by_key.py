"""Reads by key in the API's own callers (issue 14, item 1): Application Auto Scaling's service lookup and
the CloudFormation endpoint's live system read one service or one task definition through the backend's
keyed reads, never the listings (``services()``, ``tasks()``, ``task_definitions()``) that project every
record. Pure: the in-memory backend of the API tests, no sockets."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace

import pytest

from albfargate.api.autoscaling.handlers import register_scalable_target
from albfargate.api.backend import ServiceRecord, ServiceUpdate, TaskDefinitionRecord, TaskRecord
from albfargate.api.cloudformation.system import ApiSystem
from albfargate.api.context import Context
from albfargate.api.errors import ApiError
from albfargate.api.store import ConfigStore
from albfargate.model.ids import service_arn, task_definition_arn
from tests.api.fakes import SERVICE_ARN, TD_ARN, FakeBackend, demo_model

NS = {"ServiceNamespace": "ecs", "ScalableDimension": "ecs:service:DesiredCount"}


class CountingBackend(FakeBackend):
    """The fake backend, telling the listings its callers make apart from the ones its keyed reads make
    inside (the fake's keyed reads scan; the engine's use the store's indexes)."""

    def __init__(self) -> None:
        super().__init__(demo_model())
        self.listings: list[str] = []
        self._inside = 0

    def _listed(self, what: str) -> None:
        if not self._inside:
            self.listings.append(what)

    def services(self) -> Sequence[ServiceRecord]:
        self._listed("services")
        return super().services()

    def tasks(self) -> Sequence[TaskRecord]:
        self._listed("tasks")
        return super().tasks()

    def task_definitions(self) -> Sequence[TaskDefinitionRecord]:
        self._listed("task_definitions")
        return super().task_definitions()

    def service(self, cluster_arn: str, ref: str) -> ServiceRecord | None:
        self._inside += 1
        try:
            return super().service(cluster_arn, ref)
        finally:
            self._inside -= 1

    def task_definition(self, ref: str) -> TaskDefinitionRecord | None:
        self._inside += 1
        try:
            return super().task_definition(ref)
        finally:
            self._inside -= 1

    def latest_revision(self, family: str) -> int:
        self._inside += 1
        try:
            return super().latest_revision(family)
        finally:
            self._inside -= 1


def _ctx() -> tuple[Context, CountingBackend]:
    backend = CountingBackend()
    return Context(backend=backend, store=ConfigStore(demo_model())), backend


def test_register_scalable_target_reads_the_service_by_key() -> None:
    ctx, backend = _ctx()
    params = {**NS, "ResourceId": "service/demo/web", "MinCapacity": 3, "MaxCapacity": 6}
    register_scalable_target(ctx, params)
    # the desired count (2) was clamped into the new bounds by one update of that service
    assert ("update_service", ServiceUpdate(desired_count=3)) in backend.calls
    for resource in ("service/demo/nope", "service/other/web"):
        with pytest.raises(ApiError) as exc:
            register_scalable_target(ctx, {**params, "ResourceId": resource})
        assert exc.value.code == "ValidationException" and "doesn't exist" in str(exc.value.message)
    assert backend.listings == []


def test_a_deleted_service_is_not_a_scalable_target() -> None:
    ctx, backend = _ctx()
    backend.delete_service(SERVICE_ARN, force=True)
    with pytest.raises(ApiError):
        register_scalable_target(
            ctx, {**NS, "ResourceId": "service/demo/web", "MinCapacity": 1, "MaxCapacity": 2}
        )
    assert backend.listings == []


def test_the_cloudformation_system_reads_services_and_definitions_by_key() -> None:
    ctx, backend = _ctx()
    system = ApiSystem(ctx)
    state = system.service_state(SERVICE_ARN)
    assert state is not None and state.status == "ACTIVE" and state.desired_count == 2
    assert system.service_state(service_arn("demo", "nope")) is None
    assert system.service_state(service_arn("other", "web")) is None  # the cluster is part of the key
    assert system.service_state("arn:aws:ecs:us-east-1:000000000000:service/web") is None  # no cluster
    td = replace(backend.task_definitions()[0].definition, revision=2, arn=task_definition_arn("web", 2))
    backend.listings.clear()
    assert asyncio.run(system.register_task_definition(td)) == td.arn
    asyncio.run(system.deregister_task_definition(TD_ARN))
    asyncio.run(system.deregister_task_definition(task_definition_arn("web", 9)))  # unknown: nothing
    assert backend.listings == []
    statuses = {r.definition.revision: r.status for r in backend.task_definitions()}
    assert statuses == {1: "INACTIVE", 2: "ACTIVE"}


def test_describe_service_deployments_reads_each_service_by_key() -> None:
    from albfargate.api.ecs.handlers import _deployment_arn, describe_service_deployments
    from tests.api.fakes import CLUSTER_ARN

    ctx, backend = _ctx()
    record = backend.service(CLUSTER_ARN, "web")
    assert record is not None
    arn = _deployment_arn(record, record.deployments[0].id)
    missing = arn.replace("/web/", "/nope/")
    out = describe_service_deployments(ctx, {"serviceDeploymentArns": [arn, missing, "arn:nonsense"]})
    assert [d["serviceDeploymentArn"] for d in out["serviceDeployments"]] == [arn]
    assert [f["arn"] for f in out["failures"]] == [missing, "arn:nonsense"]
    assert backend.listings == []


def test_register_task_definition_numbers_the_revision_by_family_key() -> None:
    from albfargate.api.ecs.handlers import deregister_task_definition, register_task_definition

    ctx, backend = _ctx()
    params = {"family": "web", "containerDefinitions": [{"name": "app", "image": "img", "essential": True}]}
    out = register_task_definition(ctx, params)
    assert out["taskDefinition"]["revision"] == 2  # the demo model has web:1
    deregister_task_definition(ctx, {"taskDefinition": "web:2"})
    # a deregistered revision still counts: revisions only go up, as on AWS
    assert register_task_definition(ctx, params)["taskDefinition"]["revision"] == 3
    assert register_task_definition(ctx, {**params, "family": "other"})["taskDefinition"]["revision"] == 1
    assert backend.listings == []
