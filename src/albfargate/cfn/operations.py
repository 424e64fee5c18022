"""Running a stack operation, as CloudFormation runs it: the base of the stack engine
(:class:`albfargate.cfn.updates.StackUpdates` adds updates, their rollback and the recovery after a
restart; :class:`albfargate.cfn.stacks.StackEngine` the requests and their checks).

- create: resources in dependency order, each through its provider (``CREATE_IN_PROGRESS``, "Resource
  creation Initiated", ``CREATE_COMPLETE``); a failure rolls back: the resources made are deleted in
  reverse order (``ROLLBACK_IN_PROGRESS`` -> ``ROLLBACK_COMPLETE``; ``CREATE_FAILED`` with
  ``DisableRollback``);
- update: resources in the new template's order: added ones created, changed ones updated in place or
  replaced (a new one created: "Requested update requires the creation of a new physical resource;
  hence creating one."), unchanged ones left alone; then ``UPDATE_COMPLETE_CLEANUP_IN_PROGRESS``
  deletes the removed and the replaced ones; a failure rolls back to the previous template
  (``UPDATE_ROLLBACK_IN_PROGRESS``: changed resources updated back, the previous ones of replaced
  resources current again; ``UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS``: what the update made is
  deleted; ``UPDATE_ROLLBACK_COMPLETE``);
- delete: resources in reverse dependency order (``DeletionPolicy: Retain`` ones are skipped); one that
  cannot be deleted leaves the stack ``DELETE_FAILED`` with the reason.

Outputs and exports are committed when the resources are done; an export another stack imports cannot
be removed or changed. Every change of a stack is written to the state directory (``persist``); after a
restart a stack caught in the middle of an operation is finished as CloudFormation would after a
failure (an interrupted create or update is rolled back, a delete completed).

Owns the records of the stacks (reading them, their events, writing them to the state directory) and the
operations in progress (one task per stack). The clock, the id source and the poll period are
injected (tests use fakes)."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from albfargate.assembly.dependencies import dependencies
from albfargate.cfn import planner
from albfargate.cfn.evaluate import (
    EvaluationError,
    RecordingExports,
    StackContext,
    active_resources,
    attributes_of,
    evaluate,
    outputs,
    properties_text,
)
from albfargate.cfn.model import (
    STACK_TYPE,
    ChangeSetRecord,
    ExecutionStatus,
    Output,
    ParameterValue,
    ResourceRecord,
    ResourceStatus,
    StackEvent,
    StackRecord,
    StackStatus,
)
from albfargate.cfn.persist import StackStore
from albfargate.cfn.providers import ResourceFailed, ResourceRequest, provider_for
from albfargate.cfn.statuses import (
    failed_to,
    next_status,
)
from albfargate.cfn.templates import (
    TemplateError,
    check,
)
from albfargate.model import ids

log = logging.getLogger("albfargate.cfn")

REPLACING = "Requested update requires the creation of a new physical resource; hence creating one."
INITIATED = "Resource creation Initiated"
USER_INITIATED = "User Initiated"
#: Seconds between two writes of a stack's record while an operation runs (the last state is always
#: written when the operation ends).
SAVE_INTERVAL = 0.05
#: Stacks kept after DELETE_COMPLETE (DescribeStacks by stack id, ListStacks).
DELETED_KEPT = 100


@dataclass
class _Op:
    """One operation in progress on a stack."""

    stack: StackRecord
    kind: str  # create | update | delete
    token: str | None
    disable_rollback: bool = False
    created: list[str] = field(default_factory=list)  # resources the operation added
    updated: list[str] = field(default_factory=list)  # updated in place (rollback updates them back)
    replaced: list[ResourceRecord] = field(default_factory=list)  # the records a replacement superseded
    made: list[ResourceRecord] = field(default_factory=list)  # records made by this op (rollback deletes)
    failed: list[str] = field(default_factory=list)


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


class StackRunner:
    def __init__(
        self,
        system: Any,
        *,
        store: StackStore | None = None,
        clock: Callable[[], float] = time.time,
        new_id: Callable[[], str] | None = None,
        reserved: Iterable[str] = (),
        region: str = ids.LOCAL_REGION,
        account: str = ids.LOCAL_ACCOUNT,
    ) -> None:
        self.system = system
        self.store = store
        self.clock = clock
        self.new_id = new_id or (lambda: str(uuid.uuid4()))
        self.region = region
        self.account = account
        #: stack names ``up`` runs from the app itself (not CloudFormation stacks): deploys are refused
        self.reserved = frozenset(reserved)
        self._stacks: dict[str, StackRecord] = {}  # by stack id, in creation order
        self._ops: dict[str, asyncio.Task[None]] = {}
        self._op_of: dict[str, _Op] = {}  # the operation each task runs (CancelUpdateStack)
        self._last_ts: dict[str, float] = {}
        self._dirty: set[str] = set()
        self._writer: asyncio.Task[None] | None = None
        self._closed = False
        if store is not None:
            for stack in store.load():
                self._stacks[stack.stack_id] = stack

    # ---- reading -------------------------------------------------------------------------------------
    def stacks(self, *, include_deleted: bool = False) -> list[StackRecord]:
        return [
            s for s in self._stacks.values() if include_deleted or s.status != StackStatus.DELETE_COMPLETE
        ]

    def find(self, name_or_id: str | None) -> StackRecord | None:
        """A stack by id (deleted ones too) or by name (the live one)."""
        if not name_or_id:
            return None
        if name_or_id in self._stacks:
            return self._stacks[name_or_id]
        for stack in reversed(list(self._stacks.values())):
            if stack.name == name_or_id and stack.status != StackStatus.DELETE_COMPLETE:
                return stack
        return None

    def get(self, name_or_id: str) -> StackRecord:
        stack = self.find(name_or_id)
        if stack is None:
            raise TemplateError(f"Stack with id {name_or_id} does not exist")
        return stack

    def exports(self) -> list[tuple[StackRecord, Output]]:
        out = []
        for stack in self.stacks():
            if stack.status in (StackStatus.REVIEW_IN_PROGRESS, StackStatus.CREATE_IN_PROGRESS):
                continue
            for o in stack.outputs:
                if o.export_name:
                    out.append((stack, o))
        return out

    def export_values(self, *, excluding: str | None = None) -> dict[str, Any]:
        return {
            o.export_name: o.value for s, o in self.exports() if s.stack_id != excluding and o.export_name
        }

    def importers(self, export_name: str, *, excluding: str | None = None) -> list[str]:
        return [
            s.name
            for s in self.stacks()
            if s.stack_id != excluding
            and export_name in s.imports
            and s.status != StackStatus.REVIEW_IN_PROGRESS
        ]

    def busy(self) -> bool:
        return any(not t.done() for t in self._ops.values())

    # ---- ids and events ------------------------------------------------------------------------------
    def _stack_id(self, name: str) -> str:
        return f"arn:{ids.PARTITION}:cloudformation:{self.region}:{self.account}:stack/{name}/{self.new_id()}"

    def _change_set_id(self, name: str) -> str:
        prefix = f"arn:{ids.PARTITION}:cloudformation:{self.region}:{self.account}"
        return f"{prefix}:changeSet/{name}/{self.new_id()}"

    def _event(
        self,
        stack: StackRecord,
        logical_id: str,
        resource_type: str,
        status: str,
        *,
        physical_id: str | None = None,
        reason: str | None = None,
        properties: str | None = None,
        token: str | None = None,
    ) -> StackEvent:
        ts = max(self.clock(), self._last_ts.get(stack.stack_id, 0.0) + 0.001)
        self._last_ts[stack.stack_id] = ts
        if resource_type == STACK_TYPE and logical_id == stack.name:
            event_id = self.new_id()
        else:
            stamp = (
                datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.")
                + f"{int(ts * 1000) % 1000:03d}Z"
            )
            event_id = f"{logical_id}-{status}-{stamp}"
        event = StackEvent(
            event_id=event_id,
            stack_id=stack.stack_id,
            stack_name=stack.name,
            logical_id=logical_id,
            resource_type=resource_type,
            timestamp=ts,
            status=status,
            physical_id=physical_id,
            reason=reason,
            properties=properties,
            client_request_token=token,
            operation_id=stack.operation_id,
        )
        stack.events.append(event)
        self._touch(stack)
        return event

    def _stack_event(self, stack: StackRecord, status: str, reason: str | None, token: str | None) -> None:
        stack.status = status
        stack.status_reason = reason
        self._event(
            stack, stack.name, STACK_TYPE, status, physical_id=stack.stack_id, reason=reason, token=token
        )

    def _transition(self, op: _Op, event: str, reason: str | None = None) -> None:
        self._stack_event(op.stack, next_status(op.stack.status, event), reason, op.token)

    # ---- persistence ---------------------------------------------------------------------------------
    def _touch(self, stack: StackRecord) -> None:
        if self.store is None:
            return
        self._dirty.add(stack.stack_id)
        if self._writer is None or self._writer.done():
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self.flush()
                return
            self._writer = loop.create_task(self._write_soon())

    async def _write_soon(self) -> None:
        await asyncio.sleep(SAVE_INTERVAL)
        while self._dirty:
            batch = [self._stacks[i] for i in list(self._dirty) if i in self._stacks]
            self._dirty.clear()
            docs = [copy.deepcopy(s) for s in batch]  # a consistent snapshot; written off the loop
            store = self.store
            assert store is not None

            def write(docs: list[StackRecord] = docs, store: StackStore = store) -> None:
                for doc in docs:
                    store.save(doc)

            await asyncio.get_running_loop().run_in_executor(None, write)

    def flush(self) -> None:
        """Write every changed stack now (shutdown)."""
        if self.store is None:
            return
        for stack_id in list(self._dirty):
            stack = self._stacks.get(stack_id)
            if stack is not None:
                self.store.save(stack)
        self._dirty.clear()

    async def close(self) -> None:
        """Stop: operations in progress are cancelled (their stacks are finished after the next start, see
        :meth:`recover`) and every record is written."""
        self._closed = True
        for task in list(self._ops.values()):
            task.cancel()
        for task in list(self._ops.values()):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._writer is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._writer
        self.flush()

    async def idle(self) -> None:
        """Wait until no operation runs (tests)."""
        while True:
            running = [t for t in self._ops.values() if not t.done()]
            if not running:
                return
            await asyncio.wait(running)

    # ---- running operations --------------------------------------------------------------------------------
    def _launch(self, op: _Op, work: Any) -> None:
        stack = op.stack

        async def run() -> None:
            try:
                await work
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug: the stack must not stay in progress forever
                log.exception("CloudFormation operation on %s failed", stack.name)
                reason = f"Internal Failure: {type(exc).__name__}: {exc}"
                failed = {
                    "create": StackStatus.CREATE_FAILED,
                    "update": StackStatus.UPDATE_ROLLBACK_FAILED,
                    "delete": StackStatus.DELETE_FAILED,
                }[op.kind]
                self._stack_event(stack, failed, reason, op.token)
            finally:
                self._touch(stack)

        task = asyncio.get_running_loop().create_task(run())
        self._ops[stack.stack_id] = task
        self._op_of[stack.stack_id] = op

    def _context(
        self,
        stack: StackRecord,
        *,
        records: Mapping[str, ResourceRecord] | None = None,
        template: Mapping[str, Any] | None = None,
        parameters: Sequence[ParameterValue] | None = None,
        exports: RecordingExports | None = None,
    ) -> StackContext:
        return StackContext(
            stack.name,
            stack.stack_id,
            template if template is not None else stack.template,
            parameters if parameters is not None else stack.parameters,
            records=records if records is not None else stack.resources,
            exports=exports
            if exports is not None
            else RecordingExports(self.export_values(excluding=stack.stack_id)),
        )

    def _request(self, stack: StackRecord, logical_id: str, rtype: str, **kw: Any) -> ResourceRequest:
        return ResourceRequest(
            stack_name=stack.name,
            stack_id=stack.stack_id,
            logical_id=logical_id,
            type=rtype,
            system=self.system,
            **kw,
        )

    async def _make(
        self, op: _Op, ctx: StackContext, logical_id: str, *, replacing: bool = False, generation: int = 0
    ) -> ResourceRecord | None:
        """Create one resource (a new one, or the new one of a replacement); None when it failed (the
        failure is in the events; a resource whose physical id existed is in ``op.made``)."""
        stack = op.stack
        prefix = "UPDATE" if replacing else "CREATE"
        rtype = str((ctx.template.get("Resources") or {})[logical_id].get("Type"))
        try:
            ev = evaluate(ctx, logical_id)
        except EvaluationError as exc:
            self._event(stack, logical_id, rtype, f"{prefix}_IN_PROGRESS", token=op.token)
            self._event(stack, logical_id, rtype, f"{prefix}_FAILED", reason=str(exc), token=op.token)
            op.failed.append(logical_id)
            return None
        props = properties_text(ev.properties)
        self._event(
            stack,
            logical_id,
            rtype,
            f"{prefix}_IN_PROGRESS",
            reason=REPLACING if replacing else None,
            properties=props,
            token=op.token,
        )
        provider = provider_for(rtype)
        initiated: list[str] = []

        def on_initiated(physical_id: str) -> None:
            if not initiated:
                initiated.append(physical_id)
                self._event(
                    stack,
                    logical_id,
                    rtype,
                    f"{prefix}_IN_PROGRESS",
                    physical_id=physical_id,
                    reason=INITIATED,
                    properties=props,
                    token=op.token,
                )

        request = self._request(
            stack,
            logical_id,
            rtype,
            properties=ev.properties,
            template=ev.template,
            physical_id=ev.physical_id,
            items=ev.items,
            attribute=ev.attribute,
            initiated=on_initiated,
        )
        record = ResourceRecord(
            logical_id=logical_id,
            type=rtype,
            status=f"{prefix}_IN_PROGRESS",
            properties=ev.properties,
            generation=generation,
            live=provider.live,
            metadata=_metadata(ev.template),
            description=ev.template.get("Description")
            if isinstance(ev.template.get("Description"), str)
            else None,
            deletion_policy=ev.template.get("DeletionPolicy")
            if isinstance(ev.template.get("DeletionPolicy"), str)
            else None,
            updated_at=self.clock(),
        )
        reason: str | None = None
        try:
            result = await provider.create(request)
            on_initiated(result.physical_id)
            record.physical_id = result.physical_id
            record.attributes = attributes_of(ctx, ev, result.attributes)
        except ResourceFailed as exc:
            reason = str(exc)
        except EvaluationError as exc:
            reason = str(exc)
        except asyncio.CancelledError:
            if initiated:
                record.physical_id = initiated[0]
                op.made.append(record)
            raise
        except Exception as exc:
            log.exception("provider of %s %s failed", rtype, logical_id)
            reason = f"Internal Failure: {type(exc).__name__}: {exc}"
        if reason is not None:
            if initiated and record.physical_id is None:
                record.physical_id = initiated[0]
            record.status = f"{prefix}_FAILED"
            record.status_reason = reason
            if record.physical_id is not None:
                op.made.append(record)
            self._event(
                stack,
                logical_id,
                rtype,
                f"{prefix}_FAILED",
                physical_id=record.physical_id,
                reason=reason,
                properties=props,
                token=op.token,
            )
            op.failed.append(logical_id)
            return None
        record.status = f"{prefix}_COMPLETE"
        record.updated_at = self.clock()
        op.made.append(record)
        self._event(
            stack,
            logical_id,
            rtype,
            f"{prefix}_COMPLETE",
            physical_id=record.physical_id,
            properties=props,
            token=op.token,
        )
        return record

    async def _remove(self, op: _Op, record: ResourceRecord, *, retain: bool = False) -> bool:
        """Delete one resource; False when it could not be deleted (DELETE_FAILED)."""
        stack = op.stack
        if retain:
            self._event(
                stack,
                record.logical_id,
                record.type,
                ResourceStatus.DELETE_SKIPPED,
                physical_id=record.physical_id,
                token=op.token,
            )
            return True
        self._event(
            stack,
            record.logical_id,
            record.type,
            ResourceStatus.DELETE_IN_PROGRESS,
            physical_id=record.physical_id,
            token=op.token,
        )
        if record.physical_id is not None:
            request = self._request(
                stack,
                record.logical_id,
                record.type,
                properties=record.properties,
                template={},
                physical_id=record.physical_id,
                previous=record,
            )
            try:
                await provider_for(record.type).delete(request)
            except ResourceFailed as exc:
                record.status, record.status_reason = ResourceStatus.DELETE_FAILED, str(exc)
                self._event(
                    stack,
                    record.logical_id,
                    record.type,
                    ResourceStatus.DELETE_FAILED,
                    physical_id=record.physical_id,
                    reason=str(exc),
                    token=op.token,
                )
                return False
            except Exception as exc:
                if isinstance(exc, asyncio.CancelledError):
                    raise
                log.exception("provider delete of %s %s failed", record.type, record.logical_id)
                reason = f"Internal Failure: {type(exc).__name__}: {exc}"
                record.status, record.status_reason = ResourceStatus.DELETE_FAILED, reason
                self._event(
                    stack,
                    record.logical_id,
                    record.type,
                    ResourceStatus.DELETE_FAILED,
                    physical_id=record.physical_id,
                    reason=reason,
                    token=op.token,
                )
                return False
        record.status = ResourceStatus.DELETE_COMPLETE
        self._event(
            stack,
            record.logical_id,
            record.type,
            ResourceStatus.DELETE_COMPLETE,
            physical_id=record.physical_id,
            token=op.token,
        )
        return True

    async def _remove_all(
        self,
        op: _Op,
        records: Sequence[ResourceRecord],
        graph: Mapping[str, Sequence[str]],
        *,
        retain: frozenset[str] = frozenset(),
        keep_retained: bool = False,
    ) -> list[str]:
        """Delete ``records`` in the given order (reverse dependency order), skipping what a resource that
        could not be deleted depends on. Returns the logical ids that failed."""
        failed: list[str] = []
        blocked: set[str] = set()
        for record in records:
            if record.logical_id in blocked:
                continue
            keep = record.logical_id in retain or (
                keep_retained and record.deletion_policy in ("Retain", "RetainExceptOnCreate")
            )
            ok = await self._remove(op, record, retain=keep)
            if not ok:
                failed.append(record.logical_id)
                blocked.update(_closure(graph, record.logical_id))
        return failed

    # -- create
    async def _run_create(
        self, op: _Op, *, change_set: ChangeSetRecord | None = None, delete_on_failure: bool = False
    ) -> None:
        stack = op.stack
        exports = RecordingExports(self.export_values(excluding=stack.stack_id))
        try:
            order = check(stack.template)
            active = active_resources(self._context(stack, records={}, exports=exports))
        except (TemplateError, EvaluationError) as exc:
            self._fail_create(op, str(exc))
            return
        for logical_id in order:
            if logical_id not in active:
                continue
            ctx = self._context(stack, records=stack.resources, exports=exports)
            record = await self._make(op, ctx, logical_id)
            if record is None:
                break
            stack.resources[logical_id] = record
        outs, problem = self._final_outputs(op, stack, exports)
        if op.failed or problem:
            reason = problem or failed_to("create", op.failed)
            await self._rollback_create(op, reason, delete_stack=delete_on_failure)
            if change_set is not None:
                change_set.execution_status = ExecutionStatus.EXECUTE_FAILED
            return
        stack.outputs = outs
        stack.imports = sorted(exports.used)
        if change_set is not None:
            change_set.execution_status = ExecutionStatus.EXECUTE_COMPLETE
        self._transition(op, "complete")

    def _fail_create(self, op: _Op, reason: str) -> None:
        self._transition(op, "fail_no_rollback" if op.disable_rollback else "fail", reason)
        if not op.disable_rollback:
            self._transition(op, "complete")

    async def _rollback_create(
        self, op: _Op, reason: str, *, delete_stack: bool = False, event: str = "fail"
    ) -> None:
        stack = op.stack
        if op.disable_rollback:
            self._transition(op, "fail_no_rollback", reason)
            return
        self._transition(op, event, reason)
        graph = dependencies(stack.template.get("Resources") or {})
        made = {r.logical_id: r for r in op.made}
        order = planner.delete_order(
            {k: v for k, v in (stack.template.get("Resources") or {}).items() if k in made}
        )
        failed = await self._remove_all(op, [made[k] for k in order], graph)
        for logical_id in [k for k in order if k not in failed]:
            stack.resources.pop(logical_id, None)
        if failed:
            self._transition(op, "fail", failed_to("delete", failed))
            return
        stack.resources.clear()
        self._transition(op, "complete")
        if delete_stack:  # OnFailure: DELETE
            stack.operation_id = self.new_id()
            delete = _Op(stack, "delete", op.token)
            self._transition(delete, "delete", USER_INITIATED)
            await self._run_delete(delete, retain=frozenset())

    def _final_outputs(
        self, op: _Op, stack: StackRecord, exports: RecordingExports | None
    ) -> tuple[list[Output], str | None]:
        """After the resources of a create or an update: (the outputs to commit, None), or ([], why they
        cannot be committed); nothing is evaluated when a resource already failed."""
        if op.failed:
            return [], None
        found = self._outputs(stack, self._context(stack, exports=exports))
        if isinstance(found, str):
            return [], found
        return found, None

    def _outputs(self, stack: StackRecord, ctx: StackContext) -> list[Output] | str:
        """The new outputs, or why they cannot be committed (an export conflict or one in use)."""
        try:
            outs = outputs(ctx)
        except EvaluationError as exc:
            return str(exc)
        others = {
            o.export_name: s.name for s, o in self.exports() if s.stack_id != stack.stack_id and o.export_name
        }
        for o in outs:
            if o.export_name and o.export_name in others:
                return (
                    f"Export with name {o.export_name} is already exported by stack {others[o.export_name]}"
                )
        new = {o.export_name: o.value for o in outs if o.export_name}
        for old in stack.previous.outputs if stack.previous else []:
            if not old.export_name:
                continue
            users = self.importers(old.export_name, excluding=stack.stack_id)
            if not users:
                continue
            if old.export_name not in new:
                return f"Cannot delete export {old.export_name} as it is in use by {users[0]}."
            if new[old.export_name] != old.value:
                return f"Cannot update export {old.export_name} as it is in use by {users[0]}"
        return outs

    # -- update
    # -- delete
    async def _run_delete(self, op: _Op, *, retain: frozenset[str]) -> None:
        stack = op.stack
        for o in stack.outputs:
            if o.export_name:
                users = self.importers(o.export_name, excluding=stack.stack_id)
                if users:
                    self._transition(
                        op, "fail", f"Export {o.export_name} cannot be deleted as it is in use by {users[0]}"
                    )
                    return
        resources = stack.template.get("Resources") or {}
        graph = dependencies(resources)
        order = planner.delete_order({k: v for k, v in resources.items() if k in stack.resources})
        order += [k for k in stack.resources if k not in order]
        records = [stack.resources[k] for k in order]
        failed = await self._remove_all(op, records, graph, retain=retain, keep_retained=True)
        for k in order:
            if k not in failed:
                stack.resources.pop(k, None)
        if failed:
            self._transition(op, "fail", failed_to("delete", failed) + " ")
            return
        stack.outputs = []
        stack.imports = []
        stack.change_sets.clear()
        stack.deleted_at = self.clock()
        self._transition(op, "complete")
        self._prune_deleted()

    def _prune_deleted(self) -> None:
        deleted = [s for s in self._stacks.values() if s.status == StackStatus.DELETE_COMPLETE]
        for stack in deleted[: max(0, len(deleted) - DELETED_KEPT)]:
            del self._stacks[stack.stack_id]


def _short(physical_id: str | None) -> str | None:
    return physical_id.rsplit("/", 1)[-1] if physical_id else None


def _metadata(template: Mapping[str, Any]) -> dict[str, Any] | None:
    meta = template.get("Metadata")
    return dict(meta) if isinstance(meta, dict) else None


def _closure(graph: Mapping[str, Sequence[str]], start: str) -> set[str]:
    """Everything ``start`` depends on, directly or not."""
    out: set[str] = set()
    todo = list(graph.get(start, ()))
    while todo:
        name = todo.pop()
        if name not in out:
            out.add(name)
            todo.extend(graph.get(name, ()))
    return out


def _ordered(resources: Mapping[str, Any], records: Mapping[str, ResourceRecord]) -> list[str]:
    from albfargate.assembly.dependencies import dependency_order

    known = {k: v for k, v in resources.items() if k in records}
    order = dependency_order(known) if known else []
    return order + [k for k in records if k not in order]
