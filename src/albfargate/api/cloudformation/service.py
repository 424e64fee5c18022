"""One CloudFormation service per AWS endpoint: the stack engine (with the stacks recorded in the state
directory), the running system its live providers drive, and the reading of a ``TemplateURL`` from the
local S3 (every S3 URL form: ``albfargate.cfn.urls``).

:func:`attach` is what ``start_api`` calls: it makes the service for the running engine and finishes
what a stopped supervisor left in the middle (``StackEngine.recover``)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from albfargate.api.cloudformation.system import ApiSystem
from albfargate.api.context import Context
from albfargate.cfn.persist import StackStore
from albfargate.cfn.restore import state_root
from albfargate.cfn.stacks import StackEngine
from albfargate.cfn.templates import TemplateError
from albfargate.cfn.urls import s3_location

if TYPE_CHECKING:
    from albfargate.backing.s3 import S3Service

log = logging.getLogger("albfargate.cfn")

MAX_TEMPLATE_URL_BODY = 1024 * 1024  # a template read from S3 may be up to 1 MB


class CloudFormationApi:
    def __init__(self, engine: StackEngine, system: ApiSystem) -> None:
        self.engine = engine
        self.system = system

    async def template_from_url(self, url: str) -> str:
        location = s3_location(url)
        if location is None:
            raise TemplateError("TemplateURL must be a supported URL.")
        status, body, message = await self.system.read_object(
            location.bucket, location.key, location.version_id
        )
        if status >= 300:
            raise TemplateError(
                f"S3 error: {message or 'Access Denied'} For more information check "
                "http://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html"
            )
        if len(body) > MAX_TEMPLATE_URL_BODY:
            raise TemplateError(f"Template may not exceed {MAX_TEMPLATE_URL_BODY} bytes in size.")
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError:
            raise TemplateError("Template format error: the template is not UTF-8 text") from None

    async def close(self) -> None:
        await self.engine.close()


def make(
    ctx: Context,
    *,
    state_dir: Path | None,
    s3: S3Service | None = None,
    reserved: tuple[str, ...] = (),
    clock: Any = None,
) -> CloudFormationApi:
    """The service for one endpoint; ``state_dir`` None keeps nothing on disk (tests)."""
    system = ApiSystem(ctx, s3)
    store = StackStore(state_root(state_dir)) if state_dir is not None else None
    kwargs: dict[str, Any] = {}
    if clock is not None:
        kwargs["clock"] = clock
    engine = StackEngine(system, store=store, **kwargs)
    recorded = {s.name for s in engine.stacks()}
    engine.reserved = frozenset(n for n in reserved if n not in recorded)
    return CloudFormationApi(engine, system)


def attach(
    server: Any, *, state_dir: Path, model_stacks: tuple[str, ...], s3: Any = None
) -> CloudFormationApi:
    """Serve CloudFormation on ``server`` (an ``ApiServer``): stacks recorded in ``state_dir`` are known;
    stack names the app itself runs (``model_stacks`` that are not recorded stacks) are refused."""
    ctx = server.dispatcher.context
    api = make(ctx, state_dir=state_dir, s3=s3, reserved=model_stacks)
    ctx.cloudformation = api
    server.cloudformation = api
    for line in api.engine.recover():
        log.info("CloudFormation: %s", line)
    return api
