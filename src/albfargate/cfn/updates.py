"""Stack updates, their rollback and the recovery after a restart: the second half of the stack engine's
operations (:class:`StackUpdates` extends :class:`~albfargate.cfn.operations.StackRunner`, which owns the
records, the events, making and removing one resource, create and delete; :class:`~albfargate.cfn.stacks
.StackEngine` adds the requests).

- update (:meth:`StackUpdates._run_update`): resources in the new template's order; each existing one is
  left alone (same resolved properties, metadata and deletion policy), updated in place
  (:meth:`~StackUpdates._update_in_place`) or replaced (:meth:`~StackUpdates._replace_one`: a custom-named
  live resource cannot be replaced); then the cleanup deletes the removed and the superseded resources;
- rollback of an update (:meth:`StackUpdates._rollback_update`): each changed resource updated back
  (:meth:`~StackUpdates._revert_one`), the previous template current again, then what the update made is
  deleted;
- :meth:`StackUpdates.recover`: what a stopped supervisor left in the middle is finished as
  CloudFormation would after a failure."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import replace
from typing import Any

from albfargate.assembly.dependencies import dependencies
from albfargate.cfn import planner
from albfargate.cfn.evaluate import (
    Evaluated,
    EvaluationError,
    RecordingExports,
    StackContext,
    active_resources,
    attributes_of,
    evaluate,
    properties_text,
)
from albfargate.cfn.model import (
    Deployed,
    ResourceRecord,
    ResourceStatus,
    StackEvent,
    StackRecord,
    StackStatus,
)
from albfargate.cfn.operations import (
    REPLACING,
    USER_INITIATED,
    StackRunner,
    _canon,
    _metadata,
    _Op,
    _ordered,
    _short,
    log,
)
from albfargate.cfn.providers import Provider, ResourceFailed, provider_for
from albfargate.cfn.statuses import failed_to, in_progress
from albfargate.cfn.templates import TemplateError, check

__all__ = ["StackUpdates"]


class StackUpdates(StackRunner):
    # ---- update ------------------------------------------------------------------------------------
    async def _run_update(self, op: _Op) -> None:
        stack = op.stack
        previous = stack.previous
        assert previous is not None
        exports = RecordingExports(self.export_values(excluding=stack.stack_id))
        try:
            order = check(stack.template)
            active = active_resources(self._context(stack, exports=exports))
        except (TemplateError, EvaluationError) as exc:
            await self._rollback_update(op, str(exc))
            return
        for logical_id in order:
            if logical_id not in active:
                continue
            ctx = self._context(stack, exports=exports)
            if logical_id not in stack.resources:
                record = await self._make(op, ctx, logical_id)
                if record is None:
                    break
                stack.resources[logical_id] = record
                op.created.append(logical_id)
                continue
            if not await self._update_one(op, ctx, logical_id):
                break
        outs, problem = self._final_outputs(op, stack, exports)
        if op.failed or problem:
            await self._rollback_update(op, problem or failed_to("update", op.failed) + " ")
            return
        stack.outputs = outs
        stack.imports = sorted(exports.used)
        # cleanup: what was removed from the template and what replacements superseded
        removed = [stack.resources[k] for k in list(stack.resources) if k not in active]
        old_graph = dependencies(previous.template.get("Resources") or {})
        old_order = planner.delete_order(
            {k: v for k, v in (previous.template.get("Resources") or {}).items() if k in previous.resources}
        )
        superseded = {r.logical_id: r for r in op.replaced}
        gone = {r.logical_id: r for r in removed}
        cleanup = [superseded.get(k) or gone[k] for k in old_order if k in superseded or k in gone]
        for r in gone.values():  # removed resources the old template did not order
            if r not in cleanup:
                cleanup.append(r)
        self._transition(op, "cleanup")  # as on AWS, also when there is nothing to delete
        failed = await self._remove_all(op, cleanup, old_graph, keep_retained=True)
        for record in cleanup:
            if record.logical_id in gone and record.logical_id not in failed:
                stack.resources.pop(record.logical_id, None)
        stack.previous = None
        self._transition(op, "complete")

    async def _update_one(self, op: _Op, ctx: StackContext, logical_id: str) -> bool:
        """Bring one existing resource to the new template: nothing when its resolved properties,
        metadata and deletion policy are the same, else an update in place or a replacement. False when
        it failed."""
        current = op.stack.resources[logical_id]
        try:
            ev = evaluate(ctx, logical_id)
        except EvaluationError as exc:
            return self._update_failed(op, current, str(exc), started=False)
        changed = [
            k
            for k in dict.fromkeys([*ev.properties, *current.properties])
            if _canon(ev.properties.get(k)) != _canon(current.properties.get(k))
        ]
        metadata = _metadata(ev.template)
        policy = (
            ev.template.get("DeletionPolicy") if isinstance(ev.template.get("DeletionPolicy"), str) else None
        )
        if not changed and _canon(metadata) == _canon(current.metadata) and policy == current.deletion_policy:
            return True
        provider = provider_for(current.type)
        replace_it = False
        if changed:
            if provider.live:
                replace_it = bool(planner.replaces(current.type, changed))
            else:
                replace_it = ev.physical_id != current.physical_id
        if replace_it:
            return await self._replace_one(op, ctx, current, provider)
        return await self._update_in_place(op, ctx, current, ev, changed, metadata, policy, provider)

    async def _replace_one(
        self, op: _Op, ctx: StackContext, current: ResourceRecord, provider: Provider
    ) -> bool:
        """A replacement: a new resource of the next generation is made (the superseded one is deleted by
        the cleanup). A live resource whose physical id is its custom name cannot be replaced."""
        logical_id = current.logical_id
        generation = current.generation + 1
        new_ctx = replace(ctx, generations={**dict(ctx.generations), logical_id: generation})
        try:
            fresh = evaluate(new_ctx, logical_id)
        except EvaluationError as exc:
            return self._update_failed(op, current, str(exc), started=True)
        if (
            provider.live
            and current.type != "AWS::ECS::TaskDefinition"
            and fresh.physical_id == current.physical_id
        ):
            return self._update_failed(
                op,
                current,
                "CloudFormation cannot update a stack when a custom-named resource requires "
                f"replacing. Rename {_short(current.physical_id) or logical_id} and update the "
                "stack again.",
                started=False,
            )
        record = await self._make(op, new_ctx, logical_id, replacing=True, generation=generation)
        if record is None:
            return False
        op.replaced.append(current)
        op.stack.resources[logical_id] = record
        return True

    async def _update_in_place(
        self,
        op: _Op,
        ctx: StackContext,
        current: ResourceRecord,
        ev: Evaluated,
        changed: list[str],
        metadata: dict[str, Any] | None,
        policy: str | None,
        provider: Provider,
    ) -> bool:
        """An update in place: the provider is called only when a property changed (a metadata or
        deletion-policy change is recorded without it)."""
        stack, logical_id, rtype = op.stack, current.logical_id, current.type
        props = properties_text(ev.properties)
        self._event(
            stack,
            logical_id,
            rtype,
            ResourceStatus.UPDATE_IN_PROGRESS,
            physical_id=current.physical_id,
            properties=props,
            token=op.token,
        )
        op.updated.append(logical_id)
        new_record = current.copy()
        if changed:
            request = self._request(
                stack,
                logical_id,
                rtype,
                properties=ev.properties,
                template=ev.template,
                physical_id=current.physical_id or ev.physical_id,
                items=ev.items,
                attribute=ev.attribute,
                previous=current,
            )
            try:
                result = await provider.update(request)
                new_record.physical_id = result.physical_id
                new_record.attributes = attributes_of(ctx, ev, result.attributes)
            except (ResourceFailed, EvaluationError) as exc:
                return self._update_failed(op, current, str(exc), started=True)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.exception("provider update of %s %s failed", rtype, logical_id)
                reason = f"Internal Failure: {type(exc).__name__}: {exc}"
                return self._update_failed(op, current, reason, started=True)
        new_record.properties = ev.properties
        new_record.metadata = metadata
        new_record.deletion_policy = policy
        new_record.status = ResourceStatus.UPDATE_COMPLETE
        new_record.updated_at = self.clock()
        stack.resources[logical_id] = new_record
        self._event(
            stack,
            logical_id,
            rtype,
            ResourceStatus.UPDATE_COMPLETE,
            physical_id=new_record.physical_id,
            properties=props,
            token=op.token,
        )
        return True

    def _update_failed(self, op: _Op, current: ResourceRecord, reason: str, *, started: bool) -> bool:
        """``UPDATE_FAILED`` for ``current`` (after an ``UPDATE_IN_PROGRESS`` unless one was ``started``
        already); the resource is one of the operation's failures. Returns False."""
        if not started:
            self._event(
                op.stack,
                current.logical_id,
                current.type,
                ResourceStatus.UPDATE_IN_PROGRESS,
                physical_id=current.physical_id,
                token=op.token,
            )
        self._event(
            op.stack,
            current.logical_id,
            current.type,
            ResourceStatus.UPDATE_FAILED,
            physical_id=current.physical_id,
            reason=reason,
            token=op.token,
        )
        op.failed.append(current.logical_id)
        return False

    # ---- rollback of an update ----------------------------------------------------------------------
    async def _rollback_update(self, op: _Op, reason: str, *, event: str | None = "fail") -> None:
        """Roll the update back to the previous template; ``event`` moves the stack into the rollback
        (None: it is in it already)."""
        stack = op.stack
        previous = stack.previous
        assert previous is not None
        if op.disable_rollback:
            # the previous template is kept: RollbackStack rolls back to it later
            self._transition(op, "fail_no_rollback", reason)
            return
        if event is not None:
            self._transition(op, event, reason)
        exports = RecordingExports(self.export_values(excluding=stack.stack_id))
        old_resources = previous.template.get("Resources") or {}
        replaced = {r.logical_id for r in op.replaced}
        revert = set(op.updated) | replaced
        ok = True
        restored: dict[str, ResourceRecord] = {}
        for logical_id in _ordered(old_resources, previous.resources):
            old = previous.resources[logical_id]
            if logical_id not in revert:
                continue
            if logical_id in replaced and logical_id not in op.updated:
                # the previous resource was never changed: it is current again
                self._event(
                    stack,
                    logical_id,
                    old.type,
                    ResourceStatus.UPDATE_COMPLETE,
                    physical_id=old.physical_id,
                    token=op.token,
                )
                continue
            ctx = self._context(
                stack,
                records={**previous.resources, **restored},
                template=previous.template,
                parameters=previous.parameters,
                exports=exports,
            )
            if await self._revert_one(op, ctx, old):
                restored[logical_id] = old
            else:
                ok = False
        if not ok:
            self._transition(op, "fail", "The following resource(s) failed to update: rollback failed.")
            return
        await self._rollback_cleanup(op, previous)

    async def _revert_one(self, op: _Op, ctx: StackContext, old: ResourceRecord) -> bool:
        """Update one resource back to its previous properties (the provider is called when they differ
        from the current ones or its update failed). False, with ``UPDATE_FAILED``, when it cannot be."""
        stack, logical_id = op.stack, old.logical_id
        self._event(
            stack,
            logical_id,
            old.type,
            ResourceStatus.UPDATE_IN_PROGRESS,
            physical_id=old.physical_id,
            token=op.token,
        )
        reason: str | None = None
        try:
            ev = evaluate(ctx, logical_id)
            request = self._request(
                stack,
                logical_id,
                old.type,
                properties=ev.properties,
                template=ev.template,
                physical_id=old.physical_id or ev.physical_id,
                items=ev.items,
                attribute=ev.attribute,
                previous=stack.resources.get(logical_id, old),
            )
            if _canon(old.properties) != _canon(stack.resources.get(logical_id, old).properties) or (
                logical_id in op.failed
            ):
                await provider_for(old.type).update(request)
        except (ResourceFailed, EvaluationError) as exc:
            reason = str(exc)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("rollback of %s failed", logical_id)
            reason = f"Internal Failure: {type(exc).__name__}: {exc}"
        self._event(
            stack,
            logical_id,
            old.type,
            ResourceStatus.UPDATE_COMPLETE if reason is None else ResourceStatus.UPDATE_FAILED,
            physical_id=old.physical_id,
            reason=reason,
            token=op.token,
        )
        return reason is None

    async def _rollback_cleanup(self, op: _Op, previous: Deployed) -> None:
        """The previous template and resources are the stack again; what the update made (added
        resources, the new ones of replacements) is deleted."""
        stack = op.stack
        new_resources = stack.template.get("Resources") or {}
        made = [r for r in op.made if r.physical_id is not None]
        order = [r.logical_id for r in made]
        ordered = (
            planner.delete_order({k: v for k, v in new_resources.items() if k in order}) if order else []
        )
        by_id: dict[str, list[ResourceRecord]] = {}
        for r in made:
            by_id.setdefault(r.logical_id, []).append(r)
        cleanup = [r for k in ordered for r in by_id.get(k, [])]
        self._transition(op, "cleanup")
        stack.template = previous.template
        stack.template_body = previous.template_body
        stack.parameters = previous.parameters
        stack.outputs = previous.outputs
        stack.imports = previous.imports
        stack.resources = {k: r.copy() for k, r in previous.resources.items()}
        graph = dependencies(new_resources)
        await self._remove_all(op, cleanup, graph)
        stack.previous = None
        self._transition(op, "complete")

    # ---- after a restart ---------------------------------------------------------------------------
    def recover(self) -> list[str]:
        """Finish what a stopped supervisor left in the middle (call once, on the event loop, after the
        system runs what ``restore`` gave it): an interrupted create is rolled back, an interrupted update
        rolled back to the previous template (its cleanup finished if it had got there), an interrupted
        delete completed. Returns one line per stack."""
        notes: list[str] = []
        for stack in list(self._stacks.values()):
            status = stack.status
            if not in_progress(status):
                continue
            reason = "The supervisor stopped during the operation; it is finished after the restart"
            stack.operation_id = self.new_id()
            if status in (StackStatus.CREATE_IN_PROGRESS, StackStatus.ROLLBACK_IN_PROGRESS):
                stack.status = StackStatus.CREATE_IN_PROGRESS
                op = _Op(stack, "create", None)
                op.made = [r for r in stack.resources.values() if r.physical_id is not None]
                self._launch(op, self._rollback_create(op, reason))
                notes.append(f"stack {stack.name}: interrupted create rolled back")
            elif status == StackStatus.DELETE_IN_PROGRESS:
                op = _Op(stack, "delete", None)
                self._launch(op, self._run_delete(op, retain=frozenset()))
                notes.append(f"stack {stack.name}: interrupted delete completed")
            elif status == StackStatus.UPDATE_COMPLETE_CLEANUP_IN_PROGRESS and stack.previous is not None:
                op = _Op(stack, "update", None)
                self._launch(op, self._finish_cleanup(op))
                notes.append(f"stack {stack.name}: interrupted update cleanup completed")
            elif stack.previous is not None:
                stack.status = StackStatus.UPDATE_IN_PROGRESS
                op = self._rebuilt_update(stack, None)
                self._launch(op, self._rollback_update(op, reason))
                notes.append(f"stack {stack.name}: interrupted update rolled back")
            else:  # an update rollback that cannot be redone without the previous template
                self._stack_event(stack, StackStatus.UPDATE_ROLLBACK_FAILED, reason, None)
                notes.append(f"stack {stack.name}: UPDATE_ROLLBACK_FAILED")
        return notes

    async def _finish_cleanup(self, op: _Op) -> None:
        stack = op.stack
        previous = stack.previous
        assert previous is not None
        current = {(r.logical_id, r.physical_id) for r in stack.resources.values()}
        leftovers = [r for r in previous.resources.values() if (r.logical_id, r.physical_id) not in current]
        graph = dependencies(previous.template.get("Resources") or {})
        order = planner.delete_order(
            {
                k: v
                for k, v in (previous.template.get("Resources") or {}).items()
                if k in {r.logical_id for r in leftovers}
            }
        )
        by_id = {r.logical_id: r for r in leftovers}
        await self._remove_all(op, [by_id[k] for k in order if k in by_id], graph, keep_retained=True)
        stack.previous = None
        self._transition(op, "complete")

    # ---- RollbackStack, ContinueUpdateRollback, CancelUpdateStack -----------------------------------------
    def _rebuilt_update(self, stack: StackRecord, token: str | None, failed_op: str | None = None) -> _Op:
        """An update operation rebuilt from the records (after a restart, or to roll back an update that
        ended without its rollback): what differs from the previous resources was made or updated by it;
        ``failed_op``: the operation whose ``*_FAILED`` resources are its failures."""
        assert stack.previous is not None
        op = _Op(stack, "update", token)
        prev_ids = {(r.logical_id, r.physical_id) for r in stack.previous.resources.values()}
        op.made = [r for r in stack.resources.values() if (r.logical_id, r.physical_id) not in prev_ids]
        op.updated = [
            k
            for k, r in stack.resources.items()
            if k in stack.previous.resources
            and (k, r.physical_id) in prev_ids
            and _canon(r.properties) != _canon(stack.previous.resources[k].properties)
        ]
        if failed_op is not None:
            failed = {
                e.logical_id
                for e in stack.events
                if e.operation_id == failed_op and e.status.endswith("_FAILED") and e.logical_id != stack.name
            }
            op.failed = sorted(failed)
            op.updated += [k for k in op.failed if k in stack.previous.resources and k not in op.updated]
        return op

    def rollback_stack(self, stack: StackRecord, token: str | None = None) -> None:
        """RollbackStack: a create or an update that failed with ``DisableRollback`` (``CREATE_FAILED``,
        ``UPDATE_FAILED``) is rolled back now, as it would have been at once (*inferred* refusal text
        for any other status)."""
        failed_op = stack.operation_id
        if stack.status == StackStatus.CREATE_FAILED:
            stack.operation_id = self.new_id()
            op = _Op(stack, "create", token)
            op.made = [r for r in stack.resources.values() if r.physical_id is not None]
            self._launch(op, self._rollback_create(op, USER_INITIATED, event="rollback"))
        elif stack.status == StackStatus.UPDATE_FAILED and stack.previous is not None:
            op = self._rebuilt_update(stack, token, failed_op)
            stack.operation_id = self.new_id()
            self._launch(op, self._rollback_update(op, USER_INITIATED, event="rollback"))
        else:
            raise TemplateError(
                f"Stack:{stack.stack_id} is in {stack.status} state and can not be rolled back."
            )

    def continue_update_rollback(
        self, stack: StackRecord, *, skip: tuple[str, ...] = (), token: str | None = None
    ) -> None:
        """ContinueUpdateRollback: an update rollback that failed (``UPDATE_ROLLBACK_FAILED``) is
        continued; the resources named in ``skip`` are marked ``UPDATE_COMPLETE`` as they are (not rolled
        back), as AWS does."""
        if stack.status != StackStatus.UPDATE_ROLLBACK_FAILED:
            raise TemplateError("ContinueUpdateRollback cannot be called from current stack status")
        known = set(stack.resources) | (set(stack.previous.resources) if stack.previous else set())
        unknown = [k for k in skip if k not in known]
        if unknown:
            raise TemplateError(f"ResourcesToSkip [{', '.join(unknown)}] cannot be found in the stack")
        failed_op = stack.operation_id
        if stack.previous is None:  # nothing left to roll back (the record has no previous template)
            stack.operation_id = self.new_id()
            op = _Op(stack, "update", token)
            self._transition(op, "continue_rollback", USER_INITIATED)
            self._transition(op, "complete")
            self._touch(stack)
            return
        op = self._rebuilt_update(stack, token, failed_op)
        stack.operation_id = self.new_id()
        previous = stack.previous

        async def run() -> None:
            self._transition(op, "continue_rollback", USER_INITIATED)
            for logical_id in skip:
                record = stack.resources.get(logical_id) or previous.resources[logical_id]
                self._event(
                    stack,
                    logical_id,
                    record.type,
                    ResourceStatus.UPDATE_COMPLETE,
                    physical_id=record.physical_id,
                    token=token,
                )
                if logical_id in stack.resources:
                    previous.resources[logical_id] = stack.resources[logical_id].copy()
            op.updated = [k for k in op.updated if k not in skip]
            op.failed = [k for k in op.failed if k not in skip]
            await self._rollback_update(op, USER_INITIATED, event=None)

        self._launch(op, run())

    def cancel_update(self, stack: StackRecord, token: str | None = None) -> None:
        """CancelUpdateStack: the update in progress stops (the resource it was working on is
        ``UPDATE_FAILED`` / ``CREATE_FAILED`` "Resource update cancelled") and is rolled back to the
        previous template."""
        task = self._ops.get(stack.stack_id)
        op = self._op_of.get(stack.stack_id)
        if (
            stack.status != StackStatus.UPDATE_IN_PROGRESS
            or task is None
            or task.done()
            or op is None
            or op.kind != "update"
            or stack.previous is None
        ):
            raise TemplateError("CancelUpdateStack cannot be called from current stack status")
        task.cancel()

        async def run() -> None:
            with contextlib.suppress(asyncio.CancelledError):
                await task
            self._cancelled_in_flight(op)
            await self._rollback_update(op, USER_INITIATED, event="cancel")

        self._launch(op, run())

    def _cancelled_in_flight(self, op: _Op) -> None:
        """The resources the cancelled update was working on: ``*_FAILED`` "Resource update cancelled";
        an in-place update is updated back by the rollback, a create is deleted by it."""
        stack = op.stack
        last: dict[str, StackEvent] = {}
        replacing: set[str] = set()
        for e in stack.events:
            if e.operation_id != stack.operation_id or e.logical_id == stack.name:
                continue
            last[e.logical_id] = e
            if e.reason == REPLACING:
                replacing.add(e.logical_id)
        assert stack.previous is not None
        for logical_id, e in last.items():
            if not e.status.endswith("_IN_PROGRESS") or e.status.startswith("DELETE"):
                continue
            prefix = e.status.removesuffix("_IN_PROGRESS")
            self._event(
                stack,
                logical_id,
                e.resource_type,
                f"{prefix}_FAILED",
                physical_id=e.physical_id,
                reason="Resource update cancelled",
                token=op.token,
            )
            op.failed.append(logical_id)
            in_place = logical_id in stack.previous.resources and logical_id not in replacing
            if in_place and logical_id not in op.updated:
                op.updated.append(logical_id)
