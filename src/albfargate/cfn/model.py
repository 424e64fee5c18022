"""The CloudFormation vocabulary, AWS's names throughout: stack and resource statuses, the records of a
stack (its template, parameters, resources, outputs, events, change sets) and of a change set's
``Changes``, and their JSON form in the state directory.

Pure: plain values in and out. Records are mutable (the stack engine changes them on the event loop
only); changes are frozen."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

FORMAT = "albfargate.cloudformation/1"


class StackStatus(StrEnum):
    CREATE_IN_PROGRESS = "CREATE_IN_PROGRESS"
    CREATE_FAILED = "CREATE_FAILED"
    CREATE_COMPLETE = "CREATE_COMPLETE"
    ROLLBACK_IN_PROGRESS = "ROLLBACK_IN_PROGRESS"
    ROLLBACK_FAILED = "ROLLBACK_FAILED"
    ROLLBACK_COMPLETE = "ROLLBACK_COMPLETE"
    DELETE_IN_PROGRESS = "DELETE_IN_PROGRESS"
    DELETE_FAILED = "DELETE_FAILED"
    DELETE_COMPLETE = "DELETE_COMPLETE"
    UPDATE_IN_PROGRESS = "UPDATE_IN_PROGRESS"
    UPDATE_COMPLETE_CLEANUP_IN_PROGRESS = "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"
    UPDATE_COMPLETE = "UPDATE_COMPLETE"
    UPDATE_FAILED = "UPDATE_FAILED"
    UPDATE_ROLLBACK_IN_PROGRESS = "UPDATE_ROLLBACK_IN_PROGRESS"
    UPDATE_ROLLBACK_FAILED = "UPDATE_ROLLBACK_FAILED"
    UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS = "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS"
    UPDATE_ROLLBACK_COMPLETE = "UPDATE_ROLLBACK_COMPLETE"
    REVIEW_IN_PROGRESS = "REVIEW_IN_PROGRESS"


class ResourceStatus(StrEnum):
    CREATE_IN_PROGRESS = "CREATE_IN_PROGRESS"
    CREATE_FAILED = "CREATE_FAILED"
    CREATE_COMPLETE = "CREATE_COMPLETE"
    DELETE_IN_PROGRESS = "DELETE_IN_PROGRESS"
    DELETE_FAILED = "DELETE_FAILED"
    DELETE_COMPLETE = "DELETE_COMPLETE"
    DELETE_SKIPPED = "DELETE_SKIPPED"
    UPDATE_IN_PROGRESS = "UPDATE_IN_PROGRESS"
    UPDATE_FAILED = "UPDATE_FAILED"
    UPDATE_COMPLETE = "UPDATE_COMPLETE"


class ChangeSetStatus(StrEnum):
    CREATE_PENDING = "CREATE_PENDING"
    CREATE_IN_PROGRESS = "CREATE_IN_PROGRESS"
    CREATE_COMPLETE = "CREATE_COMPLETE"
    DELETE_PENDING = "DELETE_PENDING"
    DELETE_IN_PROGRESS = "DELETE_IN_PROGRESS"
    DELETE_COMPLETE = "DELETE_COMPLETE"
    DELETE_FAILED = "DELETE_FAILED"
    FAILED = "FAILED"


class ExecutionStatus(StrEnum):
    UNAVAILABLE = "UNAVAILABLE"
    AVAILABLE = "AVAILABLE"
    EXECUTE_IN_PROGRESS = "EXECUTE_IN_PROGRESS"
    EXECUTE_COMPLETE = "EXECUTE_COMPLETE"
    EXECUTE_FAILED = "EXECUTE_FAILED"
    OBSOLETE = "OBSOLETE"


#: The stack itself appears in its events and resources under this type.
STACK_TYPE = "AWS::CloudFormation::Stack"

#: ``StatusReason`` of a change set that changes nothing (the CDK CLI and the aws CLI look for it).
NO_CHANGES_REASON = (
    "The submitted information didn't contain changes. Submit different information to create a change set."
)


@dataclass
class ParameterValue:
    """One stack parameter: ``value`` as given (an SSM-typed parameter's value is the SSM parameter
    name), ``resolved`` the value read from SSM for SSM-typed ones."""

    key: str
    value: str
    resolved: str | None = None
    no_echo: bool = False

    @property
    def effective(self) -> str:
        return self.resolved if self.resolved is not None else self.value


@dataclass
class Output:
    key: str
    value: str
    description: str | None = None
    export_name: str | None = None


@dataclass
class ResourceRecord:
    """A resource of a stack. ``properties`` are its resolved properties (what it was made with);
    ``attributes`` the ``Fn::GetAtt`` values known so far; ``generation`` counts the replacements an
    update made (its ids are derived from it); ``live`` whether a live provider runs it."""

    logical_id: str
    type: str
    status: str
    physical_id: str | None = None
    status_reason: str | None = None
    updated_at: float = 0.0
    properties: dict[str, Any] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)
    generation: int = 0
    live: bool = False
    metadata: dict[str, Any] | None = None
    description: str | None = None
    deletion_policy: str | None = None

    def copy(self) -> ResourceRecord:
        return copy.deepcopy(self)


@dataclass
class StackEvent:
    event_id: str
    stack_id: str
    stack_name: str
    logical_id: str
    resource_type: str
    timestamp: float
    status: str
    physical_id: str | None = None
    reason: str | None = None
    properties: str | None = None  # ResourceProperties: the JSON text of the resource's properties
    client_request_token: str | None = None
    operation_id: str | None = None


@dataclass(frozen=True)
class ChangeDetail:
    """One ``ResourceChangeDetail``: ``attribute`` (Properties, Metadata, Tags...), ``name`` (the
    property), ``requires_recreation`` (Never, Conditionally, Always), ``evaluation`` (Static,
    Dynamic), ``change_source`` (DirectModification, ParameterReference, ResourceReference,
    ResourceAttribute), ``causing_entity``; ``before``/``after``/``change_type`` for
    ``IncludePropertyValues``."""

    attribute: str
    evaluation: str
    name: str | None = None
    requires_recreation: str | None = None
    change_source: str | None = None
    causing_entity: str | None = None
    before: Any = None
    after: Any = None
    change_type: str | None = None


@dataclass(frozen=True)
class ResourceChange:
    """One ``Change`` of a change set (``Type: Resource``)."""

    action: str  # Add | Modify | Remove
    logical_id: str
    type: str
    physical_id: str | None = None
    replacement: str | None = None  # True | False | Conditional, for Modify
    scope: tuple[str, ...] = ()
    details: tuple[ChangeDetail, ...] = ()
    before: Any = None  # the properties before (BeforeContext), for IncludePropertyValues
    after: Any = None  # the properties after (AfterContext)


@dataclass
class ChangeSetRecord:
    change_set_id: str
    name: str
    stack_id: str
    stack_name: str
    change_set_type: str  # CREATE | UPDATE
    status: str
    execution_status: str
    created_at: float
    template: dict[str, Any]
    template_body: str
    parameters: list[ParameterValue] = field(default_factory=list)
    status_reason: str | None = None
    description: str | None = None
    capabilities: list[str] = field(default_factory=list)
    tags: list[tuple[str, str]] = field(default_factory=list)
    notification_arns: list[str] = field(default_factory=list)
    changes: list[ResourceChange] = field(default_factory=list)
    include_nested_stacks: bool = False
    client_token: str | None = None
    role_arn: str | None = None
    disable_rollback: bool | None = None


@dataclass
class Deployed:
    """What a stack ran before the operation in progress: the rollback target (and what ``up`` brings
    back when the supervisor stopped in the middle of an update)."""

    template: dict[str, Any]
    template_body: str
    parameters: list[ParameterValue]
    resources: dict[str, ResourceRecord]
    outputs: list[Output]
    imports: list[str] = field(default_factory=list)


@dataclass
class StackRecord:
    stack_id: str
    name: str
    status: str
    created_at: float
    template: dict[str, Any] = field(default_factory=dict)
    template_body: str = ""
    status_reason: str | None = None
    updated_at: float | None = None
    deleted_at: float | None = None
    description: str | None = None
    parameters: list[ParameterValue] = field(default_factory=list)
    capabilities: list[str] = field(default_factory=list)
    tags: list[tuple[str, str]] = field(default_factory=list)
    notification_arns: list[str] = field(default_factory=list)
    role_arn: str | None = None
    disable_rollback: bool = False
    termination_protection: bool = False
    resources: dict[str, ResourceRecord] = field(default_factory=dict)
    outputs: list[Output] = field(default_factory=list)
    imports: list[str] = field(default_factory=list)  # the export names it imports
    events: list[StackEvent] = field(default_factory=list)  # oldest first
    change_sets: dict[str, ChangeSetRecord] = field(default_factory=dict)  # by id, in creation order
    change_set_id: str | None = None  # the change set it was last made with
    operation_id: str | None = None
    previous: Deployed | None = None

    def parameter_values(self) -> dict[str, str]:
        return {p.key: p.effective for p in self.parameters}

    def deployed(self) -> Deployed:
        return Deployed(
            template=copy.deepcopy(self.template),
            template_body=self.template_body,
            parameters=copy.deepcopy(self.parameters),
            resources={k: r.copy() for k, r in self.resources.items()},
            outputs=copy.deepcopy(self.outputs),
            imports=list(self.imports),
        )


# ---- JSON form --------------------------------------------------------------------------------------


def _params(items: Any) -> list[ParameterValue]:
    return [ParameterValue(**p) for p in items or []]


def _resource(d: Mapping[str, Any]) -> ResourceRecord:
    return ResourceRecord(**dict(d))


def _change(d: Mapping[str, Any]) -> ResourceChange:
    data = dict(d)
    data["scope"] = tuple(data.get("scope") or ())
    data["details"] = tuple(ChangeDetail(**x) for x in data.get("details") or ())
    return ResourceChange(**data)


def _change_set(d: Mapping[str, Any]) -> ChangeSetRecord:
    data = dict(d)
    data["parameters"] = _params(data.get("parameters"))
    data["tags"] = [tuple(t) for t in data.get("tags") or []]
    data["changes"] = [_change(c) for c in data.get("changes") or []]
    return ChangeSetRecord(**data)


def _deployed(d: Mapping[str, Any] | None) -> Deployed | None:
    if d is None:
        return None
    data = dict(d)
    data["parameters"] = _params(data.get("parameters"))
    data["resources"] = {k: _resource(v) for k, v in (data.get("resources") or {}).items()}
    data["outputs"] = [Output(**o) for o in data.get("outputs") or []]
    return Deployed(**data)


def stack_to_json(stack: StackRecord) -> dict[str, Any]:
    return asdict(stack)


def stack_from_json(d: Mapping[str, Any]) -> StackRecord:
    data = dict(d)
    data["parameters"] = _params(data.get("parameters"))
    data["tags"] = [tuple(t) for t in data.get("tags") or []]
    data["resources"] = {k: _resource(v) for k, v in (data.get("resources") or {}).items()}
    data["outputs"] = [Output(**o) for o in data.get("outputs") or []]
    data["events"] = [StackEvent(**e) for e in data.get("events") or []]
    data["change_sets"] = {k: _change_set(v) for k, v in (data.get("change_sets") or {}).items()}
    data["previous"] = _deployed(data.get("previous"))
    return StackRecord(**data)
