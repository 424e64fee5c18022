"""CloudFormation records -> the shapes of the CloudFormation API (botocore's ``cloudformation``
2010-05-15 model): stacks, events, resources, change sets and their changes, exports."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from albfargate.api.wire import ts
from albfargate.cfn.model import (
    ChangeDetail,
    ChangeSetRecord,
    Output,
    ParameterValue,
    ResourceChange,
    ResourceRecord,
    StackEvent,
    StackRecord,
)

NO_ECHO = "****"


def parameters_view(parameters: list[ParameterValue]) -> list[dict[str, Any]]:
    out = []
    for p in parameters:
        entry: dict[str, Any] = {"ParameterKey": p.key, "ParameterValue": NO_ECHO if p.no_echo else p.value}
        if p.resolved is not None:
            entry["ResolvedValue"] = NO_ECHO if p.no_echo else p.resolved
        out.append(entry)
    return out


def tags_view(tags: list[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags]


def output_view(o: Output, local: Callable[[str], str] | None = None) -> dict[str, Any]:
    return {
        "OutputKey": o.key,
        "OutputValue": local(o.value) if local is not None and isinstance(o.value, str) else o.value,
        "Description": o.description,
        "ExportName": o.export_name,
    }


def stack_view(stack: StackRecord, local: Callable[[str], str] | None = None) -> dict[str, Any]:
    """``local`` shows an output value as it opens locally (``local_urls.localize``)."""
    return {
        "StackId": stack.stack_id,
        "StackName": stack.name,
        "ChangeSetId": stack.change_set_id,
        "Description": stack.description,
        "Parameters": parameters_view(stack.parameters),
        "CreationTime": ts(stack.created_at),
        "DeletionTime": ts(stack.deleted_at),
        "LastUpdatedTime": ts(stack.updated_at),
        "RollbackConfiguration": {},
        "StackStatus": stack.status,
        "StackStatusReason": stack.status_reason,
        "DisableRollback": stack.disable_rollback,
        "NotificationARNs": list(stack.notification_arns),
        "Capabilities": list(stack.capabilities),
        "Outputs": [output_view(o, local) for o in stack.outputs],
        "RoleARN": stack.role_arn,
        "Tags": tags_view(stack.tags),
        "EnableTerminationProtection": stack.termination_protection,
        "DriftInformation": {"StackDriftStatus": "NOT_CHECKED"},
    }


def stack_summary_view(stack: StackRecord) -> dict[str, Any]:
    return {
        "StackId": stack.stack_id,
        "StackName": stack.name,
        "TemplateDescription": stack.description,
        "CreationTime": ts(stack.created_at),
        "LastUpdatedTime": ts(stack.updated_at),
        "DeletionTime": ts(stack.deleted_at),
        "StackStatus": stack.status,
        "StackStatusReason": stack.status_reason,
        "DriftInformation": {"StackDriftStatus": "NOT_CHECKED"},
    }


def event_view(e: StackEvent) -> dict[str, Any]:
    return {
        "StackId": e.stack_id,
        "EventId": e.event_id,
        "StackName": e.stack_name,
        "OperationId": e.operation_id,
        "LogicalResourceId": e.logical_id,
        "PhysicalResourceId": e.physical_id if e.physical_id is not None else "",
        "ResourceType": e.resource_type,
        "Timestamp": ts(e.timestamp),
        "ResourceStatus": e.status,
        "ResourceStatusReason": e.reason,
        "ResourceProperties": e.properties,
        "ClientRequestToken": e.client_request_token,
    }


def _drift() -> dict[str, Any]:
    return {"StackResourceDriftStatus": "NOT_CHECKED"}


def resource_view(stack: StackRecord, r: ResourceRecord) -> dict[str, Any]:
    """``StackResource`` (DescribeStackResources)."""
    return {
        "StackName": stack.name,
        "StackId": stack.stack_id,
        "LogicalResourceId": r.logical_id,
        "PhysicalResourceId": r.physical_id,
        "ResourceType": r.type,
        "Timestamp": ts(r.updated_at),
        "ResourceStatus": r.status,
        "ResourceStatusReason": r.status_reason,
        "Description": r.description,
        "DriftInformation": _drift(),
    }


def resource_detail_view(stack: StackRecord, r: ResourceRecord) -> dict[str, Any]:
    """``StackResourceDetail`` (DescribeStackResource)."""
    return {
        "StackName": stack.name,
        "StackId": stack.stack_id,
        "LogicalResourceId": r.logical_id,
        "PhysicalResourceId": r.physical_id,
        "ResourceType": r.type,
        "LastUpdatedTimestamp": ts(r.updated_at),
        "ResourceStatus": r.status,
        "ResourceStatusReason": r.status_reason,
        "Description": r.description,
        "Metadata": json.dumps(r.metadata) if r.metadata is not None else None,
        "DriftInformation": _drift(),
    }


def resource_summary_view(r: ResourceRecord) -> dict[str, Any]:
    """``StackResourceSummary`` (ListStackResources)."""
    return {
        "LogicalResourceId": r.logical_id,
        "PhysicalResourceId": r.physical_id,
        "ResourceType": r.type,
        "LastUpdatedTimestamp": ts(r.updated_at),
        "ResourceStatus": r.status,
        "ResourceStatusReason": r.status_reason,
        "DriftInformation": {"StackResourceDriftStatus": "NOT_CHECKED"},
    }


def _value(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def detail_view(d: ChangeDetail, *, include_values: bool) -> dict[str, Any]:
    target: dict[str, Any] = {
        "Attribute": d.attribute,
        "Name": d.name,
        "RequiresRecreation": d.requires_recreation,
    }
    if include_values:
        target["Path"] = f"/{d.attribute}/{d.name}" if d.name else f"/{d.attribute}"
        target["BeforeValue"] = _value(d.before)
        target["AfterValue"] = _value(d.after)
        target["AttributeChangeType"] = d.change_type
    return {
        "Target": target,
        "Evaluation": d.evaluation,
        "ChangeSource": d.change_source,
        "CausingEntity": d.causing_entity,
    }


def change_view(c: ResourceChange, *, include_values: bool) -> dict[str, Any]:
    rc: dict[str, Any] = {
        "Action": c.action,
        "LogicalResourceId": c.logical_id,
        "PhysicalResourceId": c.physical_id,
        "ResourceType": c.type,
        "Replacement": c.replacement,
        "Scope": list(c.scope),
        "Details": [detail_view(d, include_values=include_values) for d in c.details],
    }
    if include_values:
        if c.before is not None:
            rc["BeforeContext"] = json.dumps({"Properties": c.before}, separators=(",", ":"), default=str)
        if c.after is not None:
            rc["AfterContext"] = json.dumps({"Properties": c.after}, separators=(",", ":"), default=str)
    return {"Type": "Resource", "ResourceChange": rc}


def change_set_summary_view(cs: ChangeSetRecord) -> dict[str, Any]:
    return {
        "StackId": cs.stack_id,
        "StackName": cs.stack_name,
        "ChangeSetId": cs.change_set_id,
        "ChangeSetName": cs.name,
        "ExecutionStatus": cs.execution_status,
        "Status": cs.status,
        "StatusReason": cs.status_reason,
        "CreationTime": ts(cs.created_at),
        "Description": cs.description,
        "IncludeNestedStacks": cs.include_nested_stacks,
    }


def change_set_view(
    cs: ChangeSetRecord, changes: list[dict[str, Any]], next_token: str | None
) -> dict[str, Any]:
    return {
        "ChangeSetName": cs.name,
        "ChangeSetId": cs.change_set_id,
        "StackId": cs.stack_id,
        "StackName": cs.stack_name,
        "Description": cs.description,
        "Parameters": parameters_view(cs.parameters),
        "CreationTime": ts(cs.created_at),
        "ExecutionStatus": cs.execution_status,
        "Status": cs.status,
        "StatusReason": cs.status_reason,
        "NotificationARNs": list(cs.notification_arns),
        "RollbackConfiguration": {},
        "Capabilities": list(cs.capabilities),
        "Tags": tags_view(cs.tags),
        "Changes": changes,
        "NextToken": next_token,
        "IncludeNestedStacks": cs.include_nested_stacks,
    }
