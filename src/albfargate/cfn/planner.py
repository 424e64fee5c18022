"""The change-set planner: a deployed template and a new one (with their parameter values) -> the change
set's ``Changes`` and the order of the operations.

Each resource of either template is ``Add``, ``Remove`` or ``Modify`` (or unchanged, and left out). A
``Modify`` lists its ``Details``: a property changed in the template (``DirectModification``, Static), a
parameter it refers to has a new value (``ParameterReference``, Static), a resource it refers to is
replaced (``ResourceReference``, Static: the id will change) or modified (``ResourceAttribute``,
Dynamic: an attribute may change). ``RequiresRecreation`` comes from the table of properties whose
change replaces the resource, for the types albfargate runs live; a property of a type not in the table
is ``Conditionally``. ``Replacement`` is ``True`` when a Static detail requires recreation,
``Conditional`` when one may, else ``False``.

Order: creates and updates in the new template's dependency order, deletes of removed resources in the
reverse of the old one's (:func:`delete_order` for a whole stack).

Pure (templates are plain mappings; conditions are evaluated with the assembly's resolver)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from albfargate.assembly.dependencies import dependencies, dependency_order, references
from albfargate.cfn.model import ChangeDetail, ResourceChange
from albfargate.cfn.templates import TemplateError

#: Properties whose change replaces the resource (CloudFormation's "Update requires: Replacement"), for
#: the types albfargate runs live; every other property of these types updates in place.
REPLACEMENT: Mapping[str, frozenset[str]] = {
    "AWS::ElasticLoadBalancingV2::LoadBalancer": frozenset({"Name", "Scheme", "Type"}),
    "AWS::ElasticLoadBalancingV2::Listener": frozenset({"LoadBalancerArn"}),
    "AWS::ElasticLoadBalancingV2::ListenerRule": frozenset({"ListenerArn"}),
    "AWS::ElasticLoadBalancingV2::TargetGroup": frozenset(
        {"Name", "Port", "Protocol", "ProtocolVersion", "TargetType", "VpcId", "IpAddressType"}
    ),
    "AWS::ECS::Cluster": frozenset({"ClusterName"}),
    "AWS::ECS::Service": frozenset(
        {"Cluster", "ServiceName", "Role", "SchedulingStrategy", "DeploymentController"}
    ),
    # every property of a task definition but Tags: a change registers a new revision
    "AWS::ECS::TaskDefinition": frozenset(
        {
            "ContainerDefinitions",
            "Cpu",
            "EphemeralStorage",
            "ExecutionRoleArn",
            "Family",
            "InferenceAccelerators",
            "IpcMode",
            "Memory",
            "NetworkMode",
            "PidMode",
            "PlacementConstraints",
            "ProxyConfiguration",
            "RequiresCompatibilities",
            "RuntimePlatform",
            "TaskRoleArn",
            "Volumes",
            "EnableFaultInjection",
        }
    ),
    "AWS::ApplicationAutoScaling::ScalableTarget": frozenset(
        {"ResourceId", "ScalableDimension", "ServiceNamespace"}
    ),
    "AWS::ApplicationAutoScaling::ScalingPolicy": frozenset(
        {"PolicyName", "ResourceId", "ScalableDimension", "ScalingTargetId", "ServiceNamespace"}
    ),
    "AWS::S3::Bucket": frozenset({"BucketName", "ObjectLockEnabled"}),
    "Custom::S3AutoDeleteObjects": frozenset({"ServiceToken"}),
    "AWS::SSM::Parameter": frozenset({"Name"}),
    "AWS::SecretsManager::Secret": frozenset({"Name"}),
    "AWS::SecretsManager::SecretTargetAttachment": frozenset({"SecretId"}),
    "AWS::RDS::DBInstance": frozenset(
        {
            "AvailabilityZone",
            "CharacterSetName",
            "DBClusterIdentifier",
            "DBInstanceIdentifier",
            "DBName",
            "Engine",
            "KmsKeyId",
            "MasterUsername",
            "SourceDBInstanceIdentifier",
            "StorageEncrypted",
            "Timezone",
        }
    ),
    "AWS::RDS::DBCluster": frozenset(
        {
            "AvailabilityZones",
            "DBClusterIdentifier",
            "DBSubnetGroupName",
            "DatabaseName",
            "Engine",
            "EngineMode",
            "KmsKeyId",
            "MasterUsername",
            "SnapshotIdentifier",
            "SourceDBClusterIdentifier",
            "StorageEncrypted",
        }
    ),
}


def requires_recreation(resource_type: str, prop: str) -> str:
    """``Always`` / ``Never`` for a property of a type in the table, ``Conditionally`` otherwise."""
    if prop == "Tags" and resource_type != "AWS::ECS::TaskDefinition":
        return "Never"
    table = REPLACEMENT.get(resource_type)
    if table is None:
        return "Conditionally"
    return "Always" if prop in table else "Never"


def replaces(resource_type: str, changed: Sequence[str]) -> bool | None:
    """Whether changing ``changed`` properties replaces a resource of a type in the table (None: the
    type is not in it)."""
    table = REPLACEMENT.get(resource_type)
    if table is None:
        return None
    return any(p in table for p in changed)


@dataclass(frozen=True)
class StackView:
    """One side of a plan: the active resources of a template (their conditions evaluated), the
    effective parameter values, the physical ids of what exists (old side)."""

    resources: Mapping[str, Mapping[str, Any]]
    parameters: Mapping[str, str] = field(default_factory=dict)
    outputs: Mapping[str, Any] = field(default_factory=dict)
    physical_ids: Mapping[str, str | None] = field(default_factory=dict)
    before: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # recorded resolved properties


@dataclass(frozen=True)
class Plan:
    changes: tuple[ResourceChange, ...]
    create_or_update: tuple[str, ...]  # new template's dependency order (Add and Modify and unchanged)
    delete: tuple[str, ...]  # removed resources, reverse of the old template's order
    outputs_changed: bool = False

    @property
    def empty(self) -> bool:
        return not self.changes and not self.outputs_changed


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def _props(resource: Mapping[str, Any]) -> dict[str, Any]:
    props = resource.get("Properties")
    return dict(props) if isinstance(props, dict) else {}


def _tags_attribute(resource_type: str, prop: str) -> str:
    return "Tags" if prop == "Tags" and resource_type != "AWS::ECS::TaskDefinition" else "Properties"


def _summary(details: Sequence[ChangeDetail]) -> tuple[str, tuple[str, ...]]:
    scope: list[str] = []
    for d in details:
        if d.attribute not in scope:
            scope.append(d.attribute)
    if any(d.requires_recreation == "Always" and d.evaluation == "Static" for d in details):
        replacement = "True"
    elif any(d.requires_recreation in ("Always", "Conditionally") for d in details):
        replacement = "Conditional"
    else:
        replacement = "False"
    return replacement, tuple(scope)


def plan(old: StackView | None, new: StackView) -> Plan:
    """The change set of going from ``old`` (None: a new stack) to ``new``."""
    old_resources = dict(old.resources) if old is not None else {}
    new_resources = dict(new.resources)
    for logical_id, resource in new_resources.items():
        before = old_resources.get(logical_id)
        if before is not None and before.get("Type") != resource.get("Type"):
            raise TemplateError(
                "Update of resource type is not permitted. The new template modifies resource type of the "
                f"following resources: [{logical_id}]"
            )
    new_order = dependency_order(new_resources) if new_resources else []
    old_order = dependency_order(old_resources) if old_resources else []
    old_params = dict(old.parameters) if old is not None else {}
    changed_params = {
        k for k in set(old_params) | set(new.parameters) if old_params.get(k) != new.parameters.get(k)
    }
    changes: dict[str, ResourceChange] = {}
    replaced: set[str] = set()
    modified: set[str] = set()
    for logical_id in new_order:
        resource = new_resources[logical_id]
        rtype = str(resource.get("Type"))
        if logical_id not in old_resources:
            changes[logical_id] = ResourceChange(
                action="Add", logical_id=logical_id, type=rtype, after=_props(resource)
            )
            continue
        before = old_resources[logical_id]
        details = _details(rtype, before, resource, changed_params, replaced, modified)
        if not details:
            continue
        replacement, scope = _summary(details)
        if replacement == "True":
            replaced.add(logical_id)
        modified.add(logical_id)
        physical = old.physical_ids.get(logical_id) if old is not None else None
        changes[logical_id] = ResourceChange(
            action="Modify",
            logical_id=logical_id,
            type=rtype,
            physical_id=physical,
            replacement=replacement,
            scope=scope,
            details=tuple(details),
            before=dict(old.before.get(logical_id, _props(before))) if old is not None else None,
            after=_props(resource),
        )
    removed = [x for x in reversed(old_order) if x not in new_resources]
    for logical_id in removed:
        before = old_resources[logical_id]
        changes[logical_id] = ResourceChange(
            action="Remove",
            logical_id=logical_id,
            type=str(before.get("Type")),
            physical_id=old.physical_ids.get(logical_id) if old is not None else None,
            before=_props(before),
        )
    ordered = [changes[x] for x in new_order if x in changes] + [changes[x] for x in removed]
    old_outputs = old.outputs if old is not None else {}
    return Plan(
        changes=tuple(ordered),
        create_or_update=tuple(new_order),
        delete=tuple(removed),
        outputs_changed=_canon(old_outputs) != _canon(new.outputs)
        or any(_mentions(o, changed_params) for o in new.outputs.values()),
    )


def _mentions(value: Any, names: set[str]) -> bool:
    return bool(names & references(value).refs)


def _details(
    rtype: str,
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    changed_params: set[str],
    replaced: set[str],
    modified: set[str],
) -> list[ChangeDetail]:
    out: list[ChangeDetail] = []
    old_props, new_props = _props(before), _props(after)
    for prop in list(dict.fromkeys([*new_props, *old_props])):
        attribute = _tags_attribute(rtype, prop)
        recreation = requires_recreation(rtype, prop)
        was, now = old_props.get(prop), new_props.get(prop)
        if prop not in new_props or prop not in old_props or _canon(was) != _canon(now):
            kind = "Add" if prop not in old_props else "Remove" if prop not in new_props else "Modify"
            out.append(
                ChangeDetail(
                    attribute=attribute,
                    name=prop if attribute == "Properties" else None,
                    requires_recreation=recreation,
                    evaluation="Static",
                    change_source="DirectModification",
                    before=was,
                    after=now,
                    change_type=kind,
                )
            )
            continue
        found = references(now)
        for param in sorted(found.refs & changed_params):
            out.append(
                ChangeDetail(
                    attribute=attribute,
                    name=prop if attribute == "Properties" else None,
                    requires_recreation=recreation,
                    evaluation="Static",
                    change_source="ParameterReference",
                    causing_entity=param,
                    before=was,
                    after=now,
                    change_type="Modify",
                )
            )
        for name in sorted(found.refs & replaced):
            out.append(
                ChangeDetail(
                    attribute=attribute,
                    name=prop if attribute == "Properties" else None,
                    requires_recreation=recreation,
                    evaluation="Static",
                    change_source="ResourceReference",
                    causing_entity=name,
                    before=was,
                    after=now,
                    change_type="Modify",
                )
            )
        for name, att in sorted(found.attributes):
            if name in modified:
                out.append(
                    ChangeDetail(
                        attribute=attribute,
                        name=prop if attribute == "Properties" else None,
                        requires_recreation="Conditionally" if recreation == "Always" else recreation,
                        evaluation="Dynamic",
                        change_source="ResourceAttribute",
                        causing_entity=f"{name}.{att}",
                        before=was,
                        after=now,
                        change_type="Modify",
                    )
                )
    if _canon(before.get("Metadata")) != _canon(after.get("Metadata")):
        out.append(
            ChangeDetail(
                attribute="Metadata",
                requires_recreation="Never",
                evaluation="Static",
                change_source="DirectModification",
                before=before.get("Metadata"),
                after=after.get("Metadata"),
                change_type="Modify",
            )
        )
    for policy in ("DeletionPolicy", "UpdateReplacePolicy"):
        if before.get(policy) != after.get(policy):
            out.append(
                ChangeDetail(
                    attribute=policy,
                    requires_recreation="Never",
                    evaluation="Static",
                    change_source="DirectModification",
                    before=before.get(policy),
                    after=after.get(policy),
                    change_type="Modify",
                )
            )
    return out


def delete_order(resources: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The order in which a stack's resources are deleted: the reverse of their dependency order."""
    return list(reversed(dependency_order(resources))) if resources else []


def dependents(resources: Mapping[str, Mapping[str, Any]]) -> dict[str, set[str]]:
    """For each resource, the resources that depend on it (directly)."""
    out: dict[str, set[str]] = {name: set() for name in resources}
    for name, deps in dependencies(resources).items():
        for dep in deps:
            out[dep].add(name)
    return out
