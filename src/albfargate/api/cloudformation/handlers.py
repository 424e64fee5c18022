"""CloudFormation operations (query protocol, version 2010-05-15): read the request, call the stack
engine (``albfargate.cfn.stacks``), answer with the wire views. Refusals are the engine's
``TemplateError``s turned into AWS errors (``ValidationError``, ``AlreadyExistsException``,
``ChangeSetNotFound``, ``InsufficientCapabilitiesException``, ``InvalidChangeSetStatus``).

Operations that take a ``TemplateURL`` are coroutines: the template is read from the local S3 first
(every S3 URL form, ``albfargate.cfn.urls``), then the request is handled as with a ``TemplateBody``."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from typing import Any

from albfargate.api.backend import LocalListener
from albfargate.api.cloudformation import views
from albfargate.api.cloudformation.local_urls import localize
from albfargate.api.cloudformation.service import CloudFormationApi
from albfargate.api.context import Context, Params, Result
from albfargate.api.errors import ApiError
from albfargate.api.wire import Reader, page
from albfargate.cfn import templates
from albfargate.cfn.model import StackStatus
from albfargate.cfn.stacks import DeployRequest
from albfargate.cfn.templates import GivenParameter, TemplateError

VALIDATION = "ValidationError"
VERSION = "2010-05-15"
XMLNS = "http://cloudformation.amazonaws.com/doc/2010-05-15/"
EVENTS_PAGE = 100
STACKS_PAGE = 100
CHANGES_PAGE = 100

Handler = Any  # (Context, Params) -> Result | Awaitable[Result]


def _r(params: Params) -> Reader:
    return Reader(params, VALIDATION)


@contextmanager
def refused() -> Iterator[None]:
    try:
        yield
    except TemplateError as exc:
        raise ApiError(exc.code, exc.message, status=exc.status) from None


def _api(ctx: Context) -> CloudFormationApi:
    api = getattr(ctx, "cloudformation", None)
    if api is None:
        raise ApiError("InvalidAction", "CloudFormation is not served by this endpoint (no running system)")
    assert isinstance(api, CloudFormationApi)
    return api


def _given(r: Reader) -> tuple[GivenParameter, ...]:
    out = []
    for item in r.items("Parameters"):
        if not isinstance(item, dict) or not item.get("ParameterKey"):
            raise ApiError(VALIDATION, "Parameters: every parameter needs a ParameterKey")
        use_previous = str(item.get("UsePreviousValue", "false")).lower() == "true"
        out.append(GivenParameter(str(item["ParameterKey"]), item.get("ParameterValue"), use_previous))
    return tuple(out)


def _tags(r: Reader) -> tuple[tuple[str, str], ...] | None:
    if "Tags" not in r.params:
        return None
    return tuple(
        (str(t.get("Key", "")), str(t.get("Value", ""))) for t in r.items("Tags") if isinstance(t, dict)
    )


def _optional_flag(r: Reader, name: str) -> bool | None:
    return r.flag(name) if r.params.get(name) not in (None, "") else None


async def _body(ctx: Context, r: Reader, *, allow_previous: bool = False) -> str | None:
    body = r.text("TemplateBody")
    url = r.text("TemplateURL")
    previous = allow_previous and r.flag("UsePreviousTemplate")
    given = [x for x in (body is not None, url is not None, previous) if x]
    if len(given) > 1:
        raise ApiError(VALIDATION, "Specify exactly one of TemplateBody, TemplateURL or UsePreviousTemplate")
    if url is not None:
        with refused():
            return await _api(ctx).template_from_url(url)
    return body


async def _deploy_request(ctx: Context, r: Reader) -> DeployRequest:
    return DeployRequest(
        template_body=await _body(ctx, r, allow_previous=True),
        use_previous_template=r.flag("UsePreviousTemplate"),
        parameters=_given(r),
        capabilities=tuple(r.strs("Capabilities")),
        tags=_tags(r),
        notification_arns=tuple(r.strs("NotificationARNs")),  # accepted and ignored (no SNS)
        role_arn=r.text("RoleARN"),
        disable_rollback=_optional_flag(r, "DisableRollback"),
        client_token=r.text("ClientRequestToken") or r.text("ClientToken"),
        description=r.text("Description"),
        on_failure=r.text("OnFailure"),
        termination_protection=r.flag("EnableTerminationProtection"),
        include_nested_stacks=r.flag("IncludeNestedStacks"),
    )


# ---- stacks ------------------------------------------------------------------------------------------------


async def create_stack(ctx: Context, params: Params) -> Result:
    r = _r(params)
    name = r.req("StackName")
    request = await _deploy_request(ctx, r)
    if request.use_previous_template:
        raise ApiError(VALIDATION, "UsePreviousTemplate is not valid for CreateStack")
    with refused():
        stack = _api(ctx).engine.create_stack(name, request)
    return {"StackId": stack.stack_id}


async def update_stack(ctx: Context, params: Params) -> Result:
    r = _r(params)
    name = r.req("StackName")
    request = await _deploy_request(ctx, r)
    with refused():
        stack = _api(ctx).engine.update_stack(name, request)
    return {"StackId": stack.stack_id}


def delete_stack(ctx: Context, params: Params) -> Result:
    r = _r(params)
    name = r.req("StackName")
    engine = _api(ctx).engine
    stack = engine.find(name)
    if stack is not None and stack.termination_protection and stack.status != StackStatus.DELETE_COMPLETE:
        raise ApiError(
            VALIDATION, f"Stack [{stack.name}] cannot be deleted while TerminationProtection is enabled"
        )
    with refused():
        engine.delete_stack(name, token=r.text("ClientRequestToken"), retain=r.strs("RetainResources"))
    return {}


def rollback_stack(ctx: Context, params: Params) -> Result:
    r = _r(params)
    engine = _api(ctx).engine
    with refused():
        stack = engine.get(r.req("StackName"))
        engine.rollback_stack(stack, token=r.text("ClientRequestToken"))
    return {"StackId": stack.stack_id}


def continue_update_rollback(ctx: Context, params: Params) -> Result:
    r = _r(params)
    engine = _api(ctx).engine
    with refused():
        stack = engine.get(r.req("StackName"))
        engine.continue_update_rollback(
            stack, skip=tuple(r.strs("ResourcesToSkip")), token=r.text("ClientRequestToken")
        )
    return {}


def cancel_update_stack(ctx: Context, params: Params) -> Result:
    r = _r(params)
    engine = _api(ctx).engine
    with refused():
        engine.cancel_update(engine.get(r.req("StackName")), token=r.text("ClientRequestToken"))
    return {}


def describe_stacks(ctx: Context, params: Params) -> Result:
    r = _r(params)
    engine = _api(ctx).engine
    name = r.text("StackName")
    if name:
        with refused():
            stacks = [engine.get(name)]
    else:
        stacks = engine.stacks()
    items, nxt = page(stacks, r.text("NextToken"), STACKS_PAGE, VALIDATION, "NextToken")
    listeners: list[LocalListener] = getattr(ctx.backend, "local_listeners", lambda: [])()

    def local(value: str) -> str:
        return localize(value, listeners)

    return {"Stacks": [views.stack_view(s, local) for s in items], "NextToken": nxt}


def list_stacks(ctx: Context, params: Params) -> Result:
    r = _r(params)
    wanted = set(r.strs("StackStatusFilter"))
    stacks = [s for s in _api(ctx).engine.stacks(include_deleted=True) if not wanted or s.status in wanted]
    items, nxt = page(list(reversed(stacks)), r.text("NextToken"), STACKS_PAGE, VALIDATION, "NextToken")
    return {"StackSummaries": [views.stack_summary_view(s) for s in items], "NextToken": nxt}


def describe_stack_events(ctx: Context, params: Params) -> Result:
    r = _r(params)
    name = r.req("StackName")
    stack = _api(ctx).engine.find(name)
    if stack is None:
        raise ApiError(VALIDATION, f"Stack [{name}] does not exist")
    events = list(reversed(stack.events))  # newest first, as AWS lists them
    items, nxt = page(events, r.text("NextToken"), EVENTS_PAGE, VALIDATION, "NextToken")
    return {"StackEvents": [views.event_view(e) for e in items], "NextToken": nxt}


def describe_events(ctx: Context, params: Params) -> Result:
    """``DescribeEvents`` (operation events of a change set or stack): the validation events of a
    failed change set are not recorded locally (templates are checked when the change set is made, and
    a refused one is refused at once), so there are none; the CDK CLI then reports the change set's
    ``StatusReason``."""
    _r(params)
    return {"OperationEvents": []}


def _stack_of_resources(ctx: Context, r: Reader) -> Any:
    engine = _api(ctx).engine
    name = r.text("StackName")
    physical = r.text("PhysicalResourceId")
    if name:
        with refused():
            return engine.get(name)
    if physical:
        for stack in engine.stacks():
            if any(res.physical_id == physical for res in stack.resources.values()):
                return stack
        raise ApiError(VALIDATION, f"Stack for {physical} does not exist")
    raise ApiError(VALIDATION, "Either StackName or PhysicalResourceId must be specified")


def describe_stack_resources(ctx: Context, params: Params) -> Result:
    r = _r(params)
    stack = _stack_of_resources(ctx, r)
    logical = r.text("LogicalResourceId")
    physical = r.text("PhysicalResourceId")
    out = [
        views.resource_view(stack, res)
        for res in stack.resources.values()
        if (logical is None or res.logical_id == logical)
        and (physical is None or res.physical_id == physical)
    ]
    return {"StackResources": out}


def describe_stack_resource(ctx: Context, params: Params) -> Result:
    r = _r(params)
    name = r.req("StackName")
    logical = r.req("LogicalResourceId")
    with refused():
        stack = _api(ctx).engine.get(name)
    res = stack.resources.get(logical)
    if res is None:
        raise ApiError(VALIDATION, f"Resource {logical} does not exist for stack {stack.name}")
    return {"StackResourceDetail": views.resource_detail_view(stack, res)}


def list_stack_resources(ctx: Context, params: Params) -> Result:
    r = _r(params)
    with refused():
        stack = _api(ctx).engine.get(r.req("StackName"))
    resources = list(stack.resources.values())
    items, nxt = page(resources, r.text("NextToken"), STACKS_PAGE, VALIDATION, "NextToken")
    return {"StackResourceSummaries": [views.resource_summary_view(x) for x in items], "NextToken": nxt}


def get_template(ctx: Context, params: Params) -> Result:
    r = _r(params)
    engine = _api(ctx).engine
    change_set = r.text("ChangeSetName")
    name = r.text("StackName")
    with refused():
        if change_set:
            _, cs = engine.find_change_set(name, change_set)
            body = cs.template_body
        else:
            stack = engine.get(name or "")
            body = stack.template_body
    return {"TemplateBody": body, "StagesAvailable": ["Original", "Processed"]}


async def _template_of(ctx: Context, r: Reader) -> dict[str, Any]:
    name = r.text("StackName")
    body = await _body(ctx, r)
    with refused():
        if body is None and name:
            stack = _api(ctx).engine.get(name)
            return stack.template
        if body is None:
            raise TemplateError("Either Template URL or Template Body must be specified.")
        template = templates.parse(body)
        templates.check(template)
        return template


async def get_template_summary(ctx: Context, params: Params) -> Result:
    r = _r(params)
    template = await _template_of(ctx, r)
    caps, reason = templates.required_capabilities(template)
    metadata = template.get("Metadata")
    description = template.get("Description")
    return {
        "Parameters": templates.parameter_declarations(template),
        "Description": description if isinstance(description, str) else None,
        "Capabilities": caps,
        "CapabilitiesReason": reason,
        "ResourceTypes": templates.resource_types(template),
        "Version": str(template.get("AWSTemplateFormatVersion", "2010-09-09")),
        "Metadata": json.dumps(metadata) if metadata is not None else None,
        "DeclaredTransforms": templates.declared_transforms(template),
    }


async def validate_template(ctx: Context, params: Params) -> Result:
    r = _r(params)
    body = await _body(ctx, r)
    if body is None:
        raise ApiError(VALIDATION, "Either Template URL or Template Body must be specified.")
    with refused():
        template = templates.parse(body)
        templates.check(template)
    caps, reason = templates.required_capabilities(template)
    description = template.get("Description")
    return {
        "Parameters": [
            {k: v for k, v in p.items() if k in ("ParameterKey", "DefaultValue", "NoEcho", "Description")}
            for p in templates.parameter_declarations(template)
        ],
        "Description": description if isinstance(description, str) else None,
        "Capabilities": caps,
        "CapabilitiesReason": reason,
        "DeclaredTransforms": templates.declared_transforms(template),
    }


def update_termination_protection(ctx: Context, params: Params) -> Result:
    r = _r(params)
    with refused():
        stack = _api(ctx).engine.get(r.req("StackName"))
    stack.termination_protection = r.flag("EnableTerminationProtection")
    return {"StackId": stack.stack_id}


def get_stack_policy(ctx: Context, params: Params) -> Result:
    r = _r(params)
    with refused():
        _api(ctx).engine.get(r.req("StackName"))
    return {}


# ---- change sets ------------------------------------------------------------------------------------------


async def create_change_set(ctx: Context, params: Params) -> Result:
    r = _r(params)
    name = r.req("StackName")
    change_set = r.req("ChangeSetName")
    if r.items("ResourcesToImport"):
        raise ApiError(VALIDATION, "Resource import is not supported by albfargate")
    request = await _deploy_request(ctx, r)
    with refused():
        cs = _api(ctx).engine.create_change_set(name, change_set, r.text("ChangeSetType"), request)
    return {"Id": cs.change_set_id, "StackId": cs.stack_id}


def describe_change_set(ctx: Context, params: Params) -> Result:
    r = _r(params)
    with refused():
        _, cs = _api(ctx).engine.find_change_set(r.text("StackName"), r.req("ChangeSetName"))
    include = r.flag("IncludePropertyValues")
    changes = [views.change_view(c, include_values=include) for c in cs.changes]
    items, nxt = page(changes, r.text("NextToken"), CHANGES_PAGE, VALIDATION, "NextToken")
    return views.change_set_view(cs, items, nxt)


def execute_change_set(ctx: Context, params: Params) -> Result:
    r = _r(params)
    with refused():
        _api(ctx).engine.execute_change_set(
            r.text("StackName"),
            r.req("ChangeSetName"),
            disable_rollback=_optional_flag(r, "DisableRollback"),
            token=r.text("ClientRequestToken"),
        )
    return {}


def delete_change_set(ctx: Context, params: Params) -> Result:
    r = _r(params)
    with refused():
        _api(ctx).engine.delete_change_set(r.text("StackName"), r.req("ChangeSetName"))
    return {}


def list_change_sets(ctx: Context, params: Params) -> Result:
    r = _r(params)
    with refused():
        stack = _api(ctx).engine.get(r.req("StackName"))
    sets = list(stack.change_sets.values())
    items, nxt = page(sets, r.text("NextToken"), STACKS_PAGE, VALIDATION, "NextToken")
    return {"Summaries": [views.change_set_summary_view(c) for c in items], "NextToken": nxt}


# ---- exports ---------------------------------------------------------------------------------------------


def list_exports(ctx: Context, params: Params) -> Result:
    r = _r(params)
    exports = [
        {"ExportingStackId": s.stack_id, "Name": o.export_name, "Value": o.value}
        for s, o in _api(ctx).engine.exports()
    ]
    items, nxt = page(exports, r.text("NextToken"), STACKS_PAGE, VALIDATION, "NextToken")
    return {"Exports": items, "NextToken": nxt}


def list_imports(ctx: Context, params: Params) -> Result:
    r = _r(params)
    name = r.req("ExportName")
    users = _api(ctx).engine.importers(name)
    if not users:
        raise ApiError(VALIDATION, f"Export '{name}' is not imported by any stack.")
    items, nxt = page(users, r.text("NextToken"), STACKS_PAGE, VALIDATION, "NextToken")
    return {"Imports": items, "NextToken": nxt}


OPERATIONS: dict[str, Handler] = {
    "CreateStack": create_stack,
    "UpdateStack": update_stack,
    "DeleteStack": delete_stack,
    "RollbackStack": rollback_stack,
    "ContinueUpdateRollback": continue_update_rollback,
    "CancelUpdateStack": cancel_update_stack,
    "DescribeStacks": describe_stacks,
    "ListStacks": list_stacks,
    "DescribeStackEvents": describe_stack_events,
    "DescribeEvents": describe_events,
    "DescribeStackResources": describe_stack_resources,
    "DescribeStackResource": describe_stack_resource,
    "ListStackResources": list_stack_resources,
    "GetTemplate": get_template,
    "GetTemplateSummary": get_template_summary,
    "ValidateTemplate": validate_template,
    "UpdateTerminationProtection": update_termination_protection,
    "GetStackPolicy": get_stack_policy,
    "CreateChangeSet": create_change_set,
    "DescribeChangeSet": describe_change_set,
    "ExecuteChangeSet": execute_change_set,
    "DeleteChangeSet": delete_change_set,
    "ListChangeSets": list_change_sets,
    "ListExports": list_exports,
    "ListImports": list_imports,
}

__all__ = ["OPERATIONS", "VERSION", "XMLNS", "Awaitable"]
