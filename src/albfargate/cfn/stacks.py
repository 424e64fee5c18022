"""The stack engine's requests: CreateStack, UpdateStack, DeleteStack and the change sets, each checked
first (``templates``: the template, its references and dependency order, the parameters, the
capabilities; the stack's status) and refused with AWS's error before anything changes. An accepted
request sets the stack's ``*_IN_PROGRESS`` status at once (so a second deploy meanwhile is refused:
"Stack:<id> is in UPDATE_IN_PROGRESS state and can not be updated.") and runs the operation in the
background (``operations``)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from albfargate.cfn import planner
from albfargate.cfn.evaluate import (
    EvaluationError,
    RecordingExports,
    StackContext,
    active_resources,
    missing_imports,
)
from albfargate.cfn.model import (
    NO_CHANGES_REASON,
    ChangeSetRecord,
    ChangeSetStatus,
    ExecutionStatus,
    ParameterValue,
    StackRecord,
    StackStatus,
)
from albfargate.cfn.operations import USER_INITIATED, _Op
from albfargate.cfn.rules import RuleFormatError, evaluate_rules, rule_parameters
from albfargate.cfn.statuses import (
    DELETABLE,
    UPDATABLE,
    cannot_delete,
    cannot_update,
)
from albfargate.cfn.templates import (
    MAX_TEMPLATE_BODY,
    GivenParameter,
    TemplateError,
    check,
    check_capabilities,
    check_change_set_name,
    check_stack_name,
    declared_parameters,
    parse,
    resolve_parameters,
)
from albfargate.cfn.updates import StackUpdates
from albfargate.model import ids

log = logging.getLogger("albfargate.cfn")


@dataclass(frozen=True)
class DeployRequest:
    """What CreateStack, UpdateStack and CreateChangeSet ask for (the template as text: the caller has
    read a TemplateURL already)."""

    template_body: str | None = None
    use_previous_template: bool = False
    parameters: tuple[GivenParameter, ...] = ()
    capabilities: tuple[str, ...] = ()
    tags: tuple[tuple[str, str], ...] | None = None
    notification_arns: tuple[str, ...] = ()
    role_arn: str | None = None
    disable_rollback: bool | None = None
    client_token: str | None = None
    description: str | None = None
    on_failure: str | None = None  # CreateStack: ROLLBACK | DELETE | DO_NOTHING
    termination_protection: bool = False
    include_nested_stacks: bool = False


@dataclass
class _Prepared:
    template: dict[str, Any]
    body: str
    parameters: list[ParameterValue]


class StackEngine(StackUpdates):
    # ---- checking a deployment -------------------------------------------------------------------------
    def _template_text(self, request: DeployRequest, stack: StackRecord | None) -> str:
        if request.use_previous_template:
            if stack is None or not stack.template_body:
                raise TemplateError("UsePreviousTemplate cannot be used: the stack has no previous template")
            if request.template_body is not None:
                raise TemplateError("Specify exactly one of TemplateBody, TemplateURL or UsePreviousTemplate")
            return stack.template_body
        if request.template_body is None:
            raise TemplateError("Either Template URL or Template Body must be specified.")
        return request.template_body

    def _prepare(
        self, name: str, stack: StackRecord | None, request: DeployRequest, *, body_limit: bool
    ) -> _Prepared:
        body = self._template_text(request, stack)
        if body_limit and len(body.encode()) > MAX_TEMPLATE_BODY and not request.use_previous_template:
            raise TemplateError(
                "1 validation error detected: Value at 'templateBody' failed to satisfy constraint: Member "
                f"must have length less than or equal to {MAX_TEMPLATE_BODY}"
            )
        template = parse(body)
        check(template)
        previous = (
            stack.parameters if stack is not None and stack.status != StackStatus.REVIEW_IN_PROGRESS else None
        )
        params = resolve_parameters(template, request.parameters, previous=previous, ssm=self._ssm)
        self._check_rules(name, stack, template, params)
        check_capabilities(template, request.capabilities)
        exports = self.export_values(excluding=stack.stack_id if stack is not None else None)
        missing = missing_imports(template, exports)
        if missing:
            raise TemplateError(f"No export named {missing[0]} found")
        ctx = StackContext(
            name,
            stack.stack_id if stack else f"stack/{name}",
            template,
            params,
            exports=RecordingExports(exports),
        )
        try:
            active_resources(ctx)
        except EvaluationError as exc:
            raise TemplateError(str(exc)) from None
        return _Prepared(template, body, params)

    def _check_rules(
        self, name: str, stack: StackRecord | None, template: dict[str, Any], params: list[ParameterValue]
    ) -> None:
        """The template's ``Rules`` (``cfn/rules.py``): a failed assertion refuses the operation."""
        if "Rules" not in template:
            return
        pseudo = {
            "AWS::AccountId": ids.LOCAL_ACCOUNT,
            "AWS::Region": ids.LOCAL_REGION,
            "AWS::Partition": ids.PARTITION,
            "AWS::URLSuffix": ids.URL_SUFFIX,
            "AWS::StackName": name,
            "AWS::NotificationARNs": [],
        }
        if stack is not None:
            pseudo["AWS::StackId"] = stack.stack_id
        values = rule_parameters(declared_parameters(template), [(p.key, p.effective) for p in params])
        try:
            outcome = evaluate_rules(template, values, pseudo=pseudo)
        except RuleFormatError as exc:
            raise TemplateError(str(exc)) from None
        for line in outcome.skipped:
            log.info("CloudFormation stack %s: rule not evaluated locally: %s", name, line)
        if outcome.failed is not None:
            raise TemplateError(outcome.failed)

    def _ssm(self, name: str) -> str | None:
        reader = getattr(self.system, "ssm_parameter", None)
        return reader(name) if reader is not None else None

    def _refuse_reserved(self, name: str) -> None:
        if name in self.reserved:
            raise TemplateError(
                f"Stack [{name}] is run by `albfargate up` from the app's own assembly, not through "
                "CloudFormation; deploy it under another name or into `albfargate up --empty`"
            )

    def _plan(self, stack: StackRecord | None, prepared: _Prepared, name: str) -> planner.Plan:
        exports = self.export_values(excluding=stack.stack_id if stack else None)
        new_ctx = StackContext(
            name,
            stack.stack_id if stack else "",
            prepared.template,
            prepared.parameters,
            exports=RecordingExports(exports),
        )
        try:
            new_view = planner.StackView(
                resources=active_resources(new_ctx),
                parameters={p.key: p.effective for p in prepared.parameters},
                outputs=dict(prepared.template.get("Outputs") or {}),
            )
            old_view = None
            if stack is not None and stack.status != StackStatus.REVIEW_IN_PROGRESS:
                old_ctx = StackContext(
                    name,
                    stack.stack_id,
                    stack.template,
                    stack.parameters,
                    records=stack.resources,
                    exports=RecordingExports(exports),
                )
                old_view = planner.StackView(
                    resources={k: v for k, v in active_resources(old_ctx).items() if k in stack.resources},
                    parameters=stack.parameter_values(),
                    outputs=dict(stack.template.get("Outputs") or {}),
                    physical_ids={k: r.physical_id for k, r in stack.resources.items()},
                    before={k: r.properties for k, r in stack.resources.items()},
                )
            return planner.plan(old_view, new_view)
        except EvaluationError as exc:
            raise TemplateError(str(exc)) from None

    # ---- CreateStack / UpdateStack / DeleteStack -------------------------------------------------------
    def create_stack(self, name: str, request: DeployRequest) -> StackRecord:
        check_stack_name(name)
        self._refuse_reserved(name)
        existing = self.find(name)
        if existing is not None and existing.status != StackStatus.REVIEW_IN_PROGRESS:
            raise TemplateError(f"Stack [{name}] already exists", "AlreadyExistsException")
        if existing is not None:
            raise TemplateError(f"Stack [{name}] already exists", "AlreadyExistsException")
        prepared = self._prepare(name, None, request, body_limit=True)
        now = self.clock()
        stack = StackRecord(
            stack_id=self._stack_id(name),
            name=name,
            status=StackStatus.CREATE_IN_PROGRESS,
            created_at=now,
            tags=list(request.tags or ()),
            capabilities=list(request.capabilities),
            notification_arns=list(request.notification_arns),
            role_arn=request.role_arn,
            disable_rollback=bool(request.disable_rollback) or request.on_failure == "DO_NOTHING",
            termination_protection=request.termination_protection,
            operation_id=self.new_id(),
        )
        self._stacks[stack.stack_id] = stack
        self._commit_template(stack, prepared)
        self._stack_event(stack, StackStatus.CREATE_IN_PROGRESS, USER_INITIATED, request.client_token)
        op = _Op(stack, "create", request.client_token, disable_rollback=stack.disable_rollback)
        self._launch(op, self._run_create(op, delete_on_failure=request.on_failure == "DELETE"))
        return stack

    def update_stack(self, name: str, request: DeployRequest) -> StackRecord:
        check_stack_name(name)
        stack = self.find(name)
        if stack is None or stack.status == StackStatus.REVIEW_IN_PROGRESS:
            raise TemplateError(f"Stack [{name}] does not exist")
        if stack.status not in UPDATABLE:
            raise TemplateError(cannot_update(stack.stack_id, stack.status))
        prepared = self._prepare(name, stack, request, body_limit=True)
        plan = self._plan(stack, prepared, name)
        same_params = stack.parameter_values() == {p.key: p.effective for p in prepared.parameters}
        same_tags = request.tags is None or list(request.tags) == list(stack.tags)
        if plan.empty and same_params and same_tags:
            raise TemplateError("No updates are to be performed.")
        self._start_update(stack, prepared, request, request.disable_rollback)
        return stack

    def _start_update(
        self, stack: StackRecord, prepared: _Prepared, request: DeployRequest, disable_rollback: bool | None
    ) -> None:
        stack.previous = stack.deployed()
        stack.operation_id = self.new_id()
        if request.tags is not None:
            stack.tags = list(request.tags)
        stack.capabilities = list(request.capabilities)
        op = _Op(
            stack,
            "update",
            request.client_token,
            disable_rollback=bool(
                disable_rollback if disable_rollback is not None else stack.disable_rollback
            ),
        )
        self._transition(op, "update", USER_INITIATED)
        self._commit_template(stack, prepared)
        stack.updated_at = self.clock()
        self._launch(op, self._run_update(op))

    def delete_stack(self, name_or_id: str, *, token: str | None = None, retain: Sequence[str] = ()) -> None:
        stack = self.find(name_or_id)
        if stack is None or stack.status == StackStatus.DELETE_COMPLETE:
            return  # deleting a stack that does not exist succeeds
        if stack.status == StackStatus.DELETE_IN_PROGRESS:
            return
        if stack.status not in DELETABLE:
            raise TemplateError(cannot_delete(stack.name, stack.status))
        if retain and stack.status != StackStatus.DELETE_FAILED:
            raise TemplateError(
                "Invalid operation on stack: RetainResources can only be specified when the stack is in the "
                "DELETE_FAILED state"
            )
        stack.operation_id = self.new_id()
        op = _Op(stack, "delete", token)
        self._transition(op, "delete", USER_INITIATED)
        self._launch(op, self._run_delete(op, retain=frozenset(retain)))

    def _commit_template(self, stack: StackRecord, prepared: _Prepared) -> None:
        stack.template = prepared.template
        stack.template_body = prepared.body
        stack.parameters = prepared.parameters
        description = prepared.template.get("Description")
        stack.description = description if isinstance(description, str) else None

    # ---- change sets -------------------------------------------------------------------------------------
    def create_change_set(
        self, stack_name: str, change_set_name: str, change_set_type: str | None, request: DeployRequest
    ) -> ChangeSetRecord:
        check_stack_name(stack_name)
        check_change_set_name(change_set_name)
        kind = change_set_type or "UPDATE"
        if kind not in ("CREATE", "UPDATE"):
            raise TemplateError(
                f"ChangeSetType {kind} is not supported by albfargate (CREATE and UPDATE are)"
            )
        stack = self.find(stack_name)
        if kind == "CREATE":
            self._refuse_reserved(stack_name)
            if stack is not None and stack.status != StackStatus.REVIEW_IN_PROGRESS:
                raise TemplateError(
                    f"Stack [{stack_name}] already exists and cannot be created again with the changeSet "
                    f"[{change_set_name}]."
                )
        else:
            if stack is None or stack.status == StackStatus.REVIEW_IN_PROGRESS:
                raise TemplateError(f"Stack [{stack_name}] does not exist")
            if stack.status not in UPDATABLE:
                raise TemplateError(cannot_update(stack.stack_id, stack.status))
        if stack is not None and any(c.name == change_set_name for c in stack.change_sets.values()):
            raise TemplateError(f"ChangeSet [{change_set_name}] already exists", "AlreadyExistsException")
        prepared = self._prepare(stack_name, stack if kind == "UPDATE" else None, request, body_limit=True)
        plan = self._plan(stack if kind == "UPDATE" else None, prepared, stack_name)
        if stack is None:
            now = self.clock()
            stack = StackRecord(
                stack_id=self._stack_id(stack_name),
                name=stack_name,
                status=StackStatus.REVIEW_IN_PROGRESS,
                created_at=now,
                operation_id=self.new_id(),
            )
            self._stacks[stack.stack_id] = stack
            self._stack_event(stack, StackStatus.REVIEW_IN_PROGRESS, USER_INITIATED, request.client_token)
        status, reason, execution = ChangeSetStatus.CREATE_COMPLETE, None, ExecutionStatus.AVAILABLE
        if kind == "UPDATE":
            same_params = stack.parameter_values() == {p.key: p.effective for p in prepared.parameters}
            same_tags = request.tags is None or list(request.tags) == list(stack.tags)
            if plan.empty and same_params and same_tags:
                status, reason, execution = (
                    ChangeSetStatus.FAILED,
                    NO_CHANGES_REASON,
                    ExecutionStatus.UNAVAILABLE,
                )
        cs = ChangeSetRecord(
            change_set_id=self._change_set_id(change_set_name),
            name=change_set_name,
            stack_id=stack.stack_id,
            stack_name=stack.name,
            change_set_type=kind,
            status=status,
            status_reason=reason,
            execution_status=execution,
            created_at=self.clock(),
            template=prepared.template,
            template_body=prepared.body,
            parameters=prepared.parameters,
            description=request.description,
            capabilities=list(request.capabilities),
            tags=list(request.tags) if request.tags is not None else list(stack.tags),
            notification_arns=list(request.notification_arns),
            changes=list(plan.changes),
            include_nested_stacks=request.include_nested_stacks,
            client_token=request.client_token,
            role_arn=request.role_arn,
            disable_rollback=request.disable_rollback,
        )
        stack.change_sets[cs.change_set_id] = cs
        self._touch(stack)
        return cs

    def find_change_set(self, stack_name: str | None, change_set: str) -> tuple[StackRecord, ChangeSetRecord]:
        candidates: list[StackRecord]
        if stack_name:
            found = self.find(stack_name)
            candidates = [found] if found is not None else []
        else:
            candidates = list(self._stacks.values())
        for stack in candidates:
            for cs in stack.change_sets.values():
                if change_set in (cs.change_set_id, cs.name):
                    return stack, cs
        raise TemplateError(f"ChangeSet [{change_set}] does not exist", "ChangeSetNotFound", status=404)

    def delete_change_set(self, stack_name: str | None, change_set: str) -> None:
        if stack_name and self.find(stack_name) is None:
            raise TemplateError(f"Stack [{stack_name}] does not exist")
        try:
            stack, cs = self.find_change_set(stack_name, change_set)
        except TemplateError:
            if stack_name:  # as on AWS: deleting a change set that does not exist succeeds
                return
            raise
        if cs.execution_status == ExecutionStatus.EXECUTE_IN_PROGRESS:
            raise TemplateError(
                f"ChangeSet [{cs.change_set_id}] cannot be deleted in its current status of "
                "[EXECUTE_IN_PROGRESS]",
                "InvalidChangeSetStatus",
            )
        del stack.change_sets[cs.change_set_id]
        self._touch(stack)

    def execute_change_set(
        self,
        stack_name: str | None,
        change_set: str,
        *,
        disable_rollback: bool | None = None,
        token: str | None = None,
    ) -> None:
        stack, cs = self.find_change_set(stack_name, change_set)
        if cs.status != ChangeSetStatus.CREATE_COMPLETE or cs.execution_status != ExecutionStatus.AVAILABLE:
            raise TemplateError(
                f"ChangeSet [{cs.change_set_id}] cannot be executed in its current execution status of "
                f"[{cs.execution_status}]",
                "InvalidChangeSetStatus",
            )
        if cs.change_set_type == "CREATE":
            if stack.status != StackStatus.REVIEW_IN_PROGRESS:
                raise TemplateError(cannot_update(stack.stack_id, stack.status))
        elif stack.status not in UPDATABLE:
            raise TemplateError(cannot_update(stack.stack_id, stack.status))
        # the stack may have changed since the change set was made (another change set executed)
        prepared = _Prepared(cs.template, cs.template_body, cs.parameters)
        for other in [c for c in stack.change_sets.values() if c.change_set_id != cs.change_set_id]:
            del stack.change_sets[other.change_set_id]
        cs.execution_status = ExecutionStatus.EXECUTE_IN_PROGRESS
        stack.change_set_id = cs.change_set_id
        request = DeployRequest(
            capabilities=tuple(cs.capabilities),
            tags=tuple(cs.tags),
            notification_arns=tuple(cs.notification_arns),
            role_arn=cs.role_arn,
            client_token=token,
        )
        rollback_off = disable_rollback if disable_rollback is not None else cs.disable_rollback
        if cs.change_set_type == "CREATE":
            stack.operation_id = self.new_id()
            stack.tags = list(cs.tags)
            stack.capabilities = list(cs.capabilities)
            stack.disable_rollback = bool(rollback_off)
            self._commit_template(stack, prepared)
            op = _Op(stack, "create", token, disable_rollback=stack.disable_rollback)
            self._transition(op, "create", USER_INITIATED)
            self._launch(op, self._run_create(op, change_set=cs))
        else:
            self._start_update(stack, prepared, request, rollback_off)
            task = self._ops.get(stack.stack_id)
            if task is not None:
                task.add_done_callback(lambda _t: self._finish_change_set(stack, cs))

    def _finish_change_set(self, stack: StackRecord, cs: ChangeSetRecord) -> None:
        ok = stack.status in (StackStatus.CREATE_COMPLETE, StackStatus.UPDATE_COMPLETE)
        cs.execution_status = ExecutionStatus.EXECUTE_COMPLETE if ok else ExecutionStatus.EXECUTE_FAILED
        self._touch(stack)
