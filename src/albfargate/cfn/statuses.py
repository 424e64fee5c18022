"""The stack status machine as a table: ``(status, event) -> status``, and the statuses an operation may
start from, with AWS's refusals.

Events: ``create``, ``update``, ``delete`` (an operation starts), ``cleanup`` (resources done, the old
ones are deleted next), ``complete``, ``fail`` (a resource failed: roll back), ``fail_no_rollback``
(``DisableRollback``), ``rolled_back`` (the rollback made the old resources current again), ``rollback``
(RollbackStack), ``continue_rollback`` (ContinueUpdateRollback), ``cancel`` (CancelUpdateStack). An illegal
transition raises :class:`IllegalTransition`.

Pure."""

from __future__ import annotations

from albfargate.cfn.model import Deployed, StackRecord
from albfargate.cfn.model import StackStatus as S


class IllegalTransition(ValueError):
    def __init__(self, status: str, event: str) -> None:
        super().__init__(f"stack status {status}: no transition on {event!r}")
        self.status = status
        self.event = event


#: Where an update (UpdateStack, an UPDATE change set) may start.
UPDATABLE = frozenset({S.CREATE_COMPLETE, S.UPDATE_COMPLETE, S.UPDATE_ROLLBACK_COMPLETE, S.UPDATE_FAILED})
#: Where a delete may start (AWS refuses it while an operation is in progress).
DELETABLE = frozenset(
    {
        S.CREATE_COMPLETE,
        S.CREATE_FAILED,
        S.ROLLBACK_COMPLETE,
        S.ROLLBACK_FAILED,
        S.UPDATE_COMPLETE,
        S.UPDATE_FAILED,
        S.UPDATE_ROLLBACK_COMPLETE,
        S.UPDATE_ROLLBACK_FAILED,
        S.DELETE_FAILED,
        S.REVIEW_IN_PROGRESS,
    }
)

_TABLE: dict[tuple[str, str], S] = {
    # create (REVIEW_IN_PROGRESS: a CREATE change set made the stack)
    (S.REVIEW_IN_PROGRESS, "create"): S.CREATE_IN_PROGRESS,
    (S.CREATE_IN_PROGRESS, "complete"): S.CREATE_COMPLETE,
    (S.CREATE_IN_PROGRESS, "fail"): S.ROLLBACK_IN_PROGRESS,
    (S.CREATE_IN_PROGRESS, "fail_no_rollback"): S.CREATE_FAILED,
    (S.ROLLBACK_IN_PROGRESS, "complete"): S.ROLLBACK_COMPLETE,
    (S.ROLLBACK_IN_PROGRESS, "fail"): S.ROLLBACK_FAILED,
    # update
    (S.UPDATE_IN_PROGRESS, "cleanup"): S.UPDATE_COMPLETE_CLEANUP_IN_PROGRESS,
    (S.UPDATE_IN_PROGRESS, "complete"): S.UPDATE_COMPLETE,
    (S.UPDATE_COMPLETE_CLEANUP_IN_PROGRESS, "complete"): S.UPDATE_COMPLETE,
    (S.UPDATE_IN_PROGRESS, "fail"): S.UPDATE_ROLLBACK_IN_PROGRESS,
    (S.UPDATE_IN_PROGRESS, "fail_no_rollback"): S.UPDATE_FAILED,
    (S.UPDATE_ROLLBACK_IN_PROGRESS, "cleanup"): S.UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS,
    (S.UPDATE_ROLLBACK_IN_PROGRESS, "complete"): S.UPDATE_ROLLBACK_COMPLETE,
    (S.UPDATE_ROLLBACK_IN_PROGRESS, "fail"): S.UPDATE_ROLLBACK_FAILED,
    (S.UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS, "complete"): S.UPDATE_ROLLBACK_COMPLETE,
    # RollbackStack (of a create or an update that failed with DisableRollback), ContinueUpdateRollback,
    # CancelUpdateStack
    (S.CREATE_FAILED, "rollback"): S.ROLLBACK_IN_PROGRESS,
    (S.UPDATE_FAILED, "rollback"): S.UPDATE_ROLLBACK_IN_PROGRESS,
    (S.UPDATE_ROLLBACK_FAILED, "continue_rollback"): S.UPDATE_ROLLBACK_IN_PROGRESS,
    (S.UPDATE_IN_PROGRESS, "cancel"): S.UPDATE_ROLLBACK_IN_PROGRESS,
    # delete
    (S.DELETE_IN_PROGRESS, "complete"): S.DELETE_COMPLETE,
    (S.DELETE_IN_PROGRESS, "fail"): S.DELETE_FAILED,
}
for _status in UPDATABLE:
    _TABLE[(_status, "update")] = S.UPDATE_IN_PROGRESS
for _status in DELETABLE:
    _TABLE[(_status, "delete")] = S.DELETE_IN_PROGRESS


def next_status(status: str, event: str) -> S:
    try:
        return _TABLE[(status, event)]
    except KeyError:
        raise IllegalTransition(status, event) from None


def in_progress(status: str) -> bool:
    return status.endswith("_IN_PROGRESS") and status != S.REVIEW_IN_PROGRESS


def cannot_update(stack_id: str, status: str) -> str:
    """AWS's refusal of an update (UpdateStack, CreateChangeSet, ExecuteChangeSet)."""
    return f"Stack:{stack_id} is in {status} state and can not be updated."


def cannot_delete(stack_name: str, status: str) -> str:
    """AWS's refusal of a DeleteStack while an operation is in progress."""
    return f"Stack [{stack_name}] cannot be deleted while in status {status}"


#: The stack-level reason of a rollback, with the resources that failed (AWS's wording).
def failed_to(verb: str, logical_ids: list[str]) -> str:
    names = ", ".join(logical_ids)
    suffix = " Rollback requested by user." if verb == "create" else ""
    return f"The following resource(s) failed to {verb}: [{names}].{suffix}"


def deployed_of(stack: StackRecord) -> Deployed | None:
    """What a stack runs now, as ``up`` should bring it back: the previous template while an update was
    interrupted before its cleanup, nothing for a create or delete in progress or a stack without
    resources, else the current one."""
    status = stack.status
    if status in (S.DELETE_COMPLETE, S.REVIEW_IN_PROGRESS, S.ROLLBACK_COMPLETE):
        return None
    if status in (
        S.CREATE_IN_PROGRESS,
        S.ROLLBACK_IN_PROGRESS,
        S.DELETE_IN_PROGRESS,
    ):
        return None
    if in_progress(status) and status != S.UPDATE_COMPLETE_CLEANUP_IN_PROGRESS and stack.previous:
        return stack.previous
    return stack.deployed()
