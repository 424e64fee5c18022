"""The running system as CloudFormation's live providers drive it (:class:`albfargate.cfn.live.LiveSystem`),
over what the AWS API itself changes: the ELBv2 configuration store and the backend's data-plane calls
(as the ELBv2 handlers make them), the backend's ECS and Application Auto Scaling commands, the S3
service (through its own REST interface: the same requests a client makes), and the SSM and Secrets
Manager stores. Nothing here reaches into the engine's internals; when the control plane gets one write
path, this is the one place to move onto it.

A refusal is :class:`~albfargate.cfn.providers.ResourceFailed` with the message CloudFormation's
resource handler would give."""

from __future__ import annotations

import asyncio
import random
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from albfargate.api.backend import BackendError, ServiceRecord, ServiceUpdate
from albfargate.api.context import Context
from albfargate.api.store import PolicyRecord, TargetRecord, policy_config
from albfargate.cfn.live import DeploymentState, ServiceState, handler_message
from albfargate.cfn.providers import ResourceFailed
from albfargate.model.autoscaling import ScalableTarget, TargetTrackingPolicy
from albfargate.model.backing import Parameter, SecretSpec
from albfargate.model.ecs import Cluster, Service, TaskDefinition
from albfargate.model.elbv2 import ForwardAction, Listener, LoadBalancer, Rule, TargetGroup
from albfargate.model.s3 import Bucket

if TYPE_CHECKING:
    from albfargate.backing.s3 import Reply, S3Service

_S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def _failed(exc: BackendError) -> ResourceFailed:
    return ResourceFailed(handler_message(exc.message, exc.code))


class ApiSystem:
    """:class:`~albfargate.cfn.live.LiveSystem` over the API's context (and the S3 service, if any)."""

    def __init__(
        self, ctx: Context, s3: S3Service | None = None, *, rng: random.Random | None = None
    ) -> None:
        self.ctx = ctx
        self.s3 = s3
        self.rng = rng or random.SystemRandom()

    @property
    def _backend(self) -> Any:
        return self.ctx.backend

    async def _settle(self) -> None:
        settle: Callable[[], Awaitable[None]] | None = getattr(self._backend, "settle", None)
        if settle is not None:
            await settle()

    def _call(self, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        try:
            return fn(*args, **kw)
        except BackendError as exc:
            raise _failed(exc) from None

    # ---- ELBv2 ----------------------------------------------------------------------------------------
    async def put_load_balancer(self, lb: LoadBalancer) -> None:
        store = self.ctx.store
        if lb.arn in store.load_balancers:
            store.load_balancers[lb.arn] = lb
            self._call(self._backend.update_load_balancer_attributes, lb.arn, lb.attributes)
        else:
            self._call(self._backend.add_load_balancer, lb)  # refuses before the store changes
            store.load_balancers[lb.arn] = lb
            store.created_at[lb.arn] = self.ctx.clock()
        await self._settle()

    async def delete_load_balancer(self, arn: str) -> None:
        store = self.ctx.store
        if arn not in store.load_balancers:
            return
        self._call(self._backend.remove_load_balancer, arn)
        for listener in store.listeners_of(arn):
            self._forget_listener(listener.arn)
        del store.load_balancers[arn]
        store.created_at.pop(arn, None)
        store.tags.pop(arn, None)
        await self._settle()

    def _forget_listener(self, arn: str) -> None:
        store = self.ctx.store
        for rule in store.rules_of(arn):
            store.tags.pop(rule.arn, None)
        store.remove_listener(arn)
        store.tags.pop(arn, None)

    async def put_listener(self, listener: Listener) -> None:
        store = self.ctx.store
        existing = store.listeners.get(listener.arn)
        same_binding = existing is not None and (
            existing.port,
            existing.protocol,
            existing.certificates,
            existing.ssl_policy,
        ) == (listener.port, listener.protocol, listener.certificates, listener.ssl_policy)
        if existing is not None and same_binding:  # ModifyListener of the actions: no rebinding
            store.listeners[listener.arn] = listener
            self._call(self._backend.set_default_actions, listener.arn, listener.default_actions)
        else:
            self._call(self._backend.add_listener, listener, store.rules_of(listener.arn))
            store.add_listener(listener)
        await self._settle()

    async def delete_listener(self, arn: str) -> None:
        if arn not in self.ctx.store.listeners:
            return
        self._call(self._backend.remove_listener, arn)
        self._forget_listener(arn)
        await self._settle()

    async def put_rule(self, rule: Rule) -> None:
        store = self.ctx.store
        if rule.listener_arn not in store.listeners:
            raise ResourceFailed(handler_message(f"Listener '{rule.listener_arn}' not found", "NotFound"))
        store.rules[rule.arn] = rule
        self._call(self._backend.set_rules, rule.listener_arn, store.rules_of(rule.listener_arn))
        await self._settle()

    async def delete_rule(self, arn: str) -> None:
        store = self.ctx.store
        rule = store.rules.pop(arn, None)
        store.tags.pop(arn, None)
        if rule is not None and rule.listener_arn in store.listeners:
            self._call(self._backend.set_rules, rule.listener_arn, store.rules_of(rule.listener_arn))
            await self._settle()

    async def put_target_group(self, tg: TargetGroup) -> None:
        store = self.ctx.store
        if tg.arn not in store.target_groups:
            store.created_at[tg.arn] = self.ctx.clock()
        store.target_groups[tg.arn] = tg
        self._call(self._backend.update_target_group, tg)

    async def delete_target_group(self, arn: str) -> None:
        store = self.ctx.store
        if arn not in store.target_groups:
            return
        used = [x.arn for x in store.listeners.values() if _forwards_to(x.default_actions, arn)]
        used += [r.arn for r in store.rules.values() if _forwards_to(r.actions, arn)]
        if used:
            raise ResourceFailed(
                handler_message(
                    f"Target group '{arn}' is currently in use by a listener or a rule", "ResourceConflict"
                )
            )
        del store.target_groups[arn]
        store.tags.pop(arn, None)

    # ---- ECS --------------------------------------------------------------------------------------------
    async def put_cluster(self, cluster: Cluster) -> None:
        self._call(self._backend.create_cluster, cluster)

    async def delete_cluster(self, arn: str) -> None:
        self._call(self._backend.delete_cluster, arn)

    async def register_task_definition(self, td: TaskDefinition) -> str:
        """The new revision's ARN: the family's newest ACTIVE revision, read by key before and after."""
        before = self._backend.task_definition(td.family)
        self._call(self._backend.register_task_definition, td)
        after = self._backend.task_definition(td.family)
        if after is None or (before is not None and after.definition.arn == before.definition.arn):
            raise ResourceFailed(handler_message(f"task definition {td.family} was not registered"))
        made: TaskDefinition = after.definition
        return made.arn

    async def deregister_task_definition(self, arn: str) -> None:
        if self._backend.task_definition(arn) is not None:
            self._call(self._backend.deregister_task_definition, arn)

    async def create_service(self, service: Service) -> None:
        self._call(self._backend.create_service, service)

    async def update_service(self, service: Service, *, desired_count: bool = True) -> None:
        update = ServiceUpdate(
            desired_count=service.desired_count if desired_count else None,
            task_definition_arn=service.task_definition_arn,
            deployment_configuration=service.deployment_configuration,
            health_check_grace_period_seconds=service.health_check_grace_period_seconds,
            load_balancers=service.load_balancers,
            network=(service.subnets, service.security_groups, service.assign_public_ip),
            platform_version=service.platform_version,
        )
        self._call(self._backend.update_service, service.arn, update)

    async def delete_service(self, arn: str) -> None:
        if self.service_state(arn) is None:
            return
        self._call(self._backend.delete_service, arn, force=True)

    def _service(self, arn: str) -> ServiceRecord | None:
        """The service with that ARN, read by key (``.../service/<cluster>/<name>``: its cluster's ARN is
        the same but ``cluster/<cluster>``)."""
        prefix, sep, rest = arn.rpartition(":service/")
        cluster, slash, _ = rest.partition("/")
        if not sep or not slash:
            return None
        s = self._backend.service(f"{prefix}:cluster/{cluster}", arn)
        return s if s is not None and s.service.arn == arn else None

    def service_state(self, arn: str) -> ServiceState | None:
        s = self._service(arn)
        if s is None:
            return None
        return ServiceState(
            status=s.status,
            desired_count=s.service.desired_count,
            running_count=s.running_count,
            deployments=tuple(
                DeploymentState(
                    id=d.id,
                    status=d.status,
                    rollout_state=d.rollout_state,
                    task_definition_arn=d.task_definition_arn,
                    rollout_state_reason=d.rollout_state_reason,
                    created_at=d.created_at,
                )
                for d in s.deployments
                if d.status != "INACTIVE"
            ),
            events=tuple(e.message for e in s.events[:5]),
        )

    # ---- Application Auto Scaling -----------------------------------------------------------------------
    def _push_scaling(self) -> None:
        store = self.ctx.store
        targets = [r.target for r in store.scalable_targets.values()]
        policies = [r.policy for r in store.policies.values()]
        self._call(self._backend.set_scaling, targets, policies)

    async def put_scalable_target(self, target: ScalableTarget) -> None:
        store = self.ctx.store
        existing = store.scalable_target(
            target.service_namespace, target.resource_id, target.scalable_dimension
        )
        created = existing.created_at if existing is not None else self.ctx.clock()
        store.put_scalable_target(TargetRecord(target, created))
        self._push_scaling()

    async def delete_scalable_target(self, target: ScalableTarget) -> None:
        store = self.ctx.store
        store.delete_scalable_target(target.service_namespace, target.resource_id, target.scalable_dimension)
        for arn in [a for a, p in store.policies.items() if p.policy.resource_id == target.resource_id]:
            del store.policies[arn]
        self._push_scaling()

    async def put_scaling_policy(self, policy: TargetTrackingPolicy) -> None:
        store = self.ctx.store
        existing = store.policies.get(policy.arn)
        created = existing.created_at if existing is not None else self.ctx.clock()
        store.policies[policy.arn] = PolicyRecord(
            policy, "TargetTrackingScaling", policy_config(policy), created
        )
        self._push_scaling()

    async def delete_scaling_policy(self, arn: str) -> None:
        if self.ctx.store.policies.pop(arn, None) is not None:
            self._push_scaling()

    # ---- S3 ---------------------------------------------------------------------------------------------
    def _s3(self) -> S3Service:
        if self.s3 is None:
            raise ResourceFailed(
                handler_message(
                    "S3 buckets need the S3 library: pip install 'albfargate[s3]' and run up again",
                    "NotStabilized",
                )
            )
        return self.s3

    async def _s3_call(self, method: str, target: str, body: bytes = b"") -> Reply:
        headers = {
            "host": "127.0.0.1",
            "content-length": str(len(body)),
            # as the account's own caller (an anonymous request is held to the bucket's ACL)
            "authorization": "AWS4-HMAC-SHA256 Credential=albfargate/20240101/us-east-1/s3/aws4_request, "
            "SignedHeaders=host, Signature=0",
        }
        if body:
            headers["content-type"] = "application/xml"
            import base64
            import hashlib

            headers["content-md5"] = base64.b64encode(hashlib.md5(body).digest()).decode()
        return await self._s3().handle(method, target, headers, body)

    @staticmethod
    def _s3_error(reply: Reply) -> tuple[str, str]:
        try:
            root = ET.fromstring(reply.body)
            code = root.findtext("Code") or str(reply.status)
            message = root.findtext("Message") or ""
        except ET.ParseError:
            return str(reply.status), reply.body.decode(errors="replace")
        return code, message

    def _s3_failed(self, reply: Reply, code: str = "GeneralServiceException") -> ResourceFailed:
        error_code, message = self._s3_error(reply)
        request_id = next((v for k, v in reply.headers if k.lower() == "x-amz-request-id"), "")
        return ResourceFailed(
            handler_message(
                f"{message} (Service: S3, Status Code: {reply.status}, Request ID: {request_id})", code
            )
            if error_code != "BucketAlreadyOwnedByYou"
            else handler_message(f"{message}", "AlreadyExists")
        )

    async def create_bucket(self, bucket: Bucket) -> None:
        # as CloudFormation's handler: an existing bucket is an error (S3 itself answers 200 to the
        # owner's CreateBucket in us-east-1)
        exists = await self._s3_call("HEAD", f"/{quote(bucket.name)}")
        if exists.status < 300:
            raise ResourceFailed(handler_message(f"{bucket.name} already exists", "AlreadyExists"))
        reply = await self._s3_call("PUT", f"/{quote(bucket.name)}")
        if reply.status >= 300:
            code, _ = self._s3_error(reply)
            if code in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise ResourceFailed(handler_message(f"{bucket.name} already exists", "AlreadyExists"))
            raise self._s3_failed(reply)
        await self.update_bucket(bucket)

    async def update_bucket(self, bucket: Bucket) -> None:
        if bucket.versioning:
            body = (
                b'<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
                b"<Status>Enabled</Status></VersioningConfiguration>"
            )
            reply = await self._s3_call("PUT", f"/{quote(bucket.name)}?versioning", body)
            if reply.status >= 300:
                raise self._s3_failed(reply)
        if bucket.tags:
            tags = "".join(f"<Tag><Key>{_xml(k)}</Key><Value>{_xml(v)}</Value></Tag>" for k, v in bucket.tags)
            body = f"<Tagging><TagSet>{tags}</TagSet></Tagging>".encode()
            reply = await self._s3_call("PUT", f"/{quote(bucket.name)}?tagging", body)
            if reply.status >= 300:
                raise self._s3_failed(reply)

    async def delete_bucket(self, name: str) -> None:
        if self.s3 is None:
            return
        reply = await self._s3_call("DELETE", f"/{quote(name)}")
        if reply.status == 404 or reply.status < 300:
            return
        raise self._s3_failed(reply)

    async def empty_bucket(self, name: str) -> None:
        """Delete every object version and delete marker (what the CDK's auto-delete-objects handler
        does); nothing when the bucket is gone."""
        if self.s3 is None:
            return
        for _ in range(10_000):
            reply = await self._s3_call("GET", f"/{quote(name)}?versions&max-keys=1000")
            if reply.status == 404:
                return
            if reply.status >= 300:
                raise self._s3_failed(reply)
            root = ET.fromstring(reply.body)
            entries = [
                (el.findtext(f"{_S3_NS}Key") or "", el.findtext(f"{_S3_NS}VersionId"))
                for el in [*root.iter(f"{_S3_NS}Version"), *root.iter(f"{_S3_NS}DeleteMarker")]
            ]
            if not entries:
                return
            for key, version in entries:
                target = f"/{quote(name)}/{quote(key)}"
                if version and version != "null":
                    target += f"?versionId={quote(version)}"
                deleted = await self._s3_call("DELETE", target)
                if deleted.status >= 300 and deleted.status != 404:
                    raise self._s3_failed(deleted)
        await asyncio.sleep(0)

    # ---- SSM and Secrets Manager ---------------------------------------------------------------------
    def _parameters(self) -> Any:
        if self.ctx.parameters is None:
            raise ResourceFailed(handler_message("the local Parameter Store is not running", "NotStabilized"))
        return self.ctx.parameters

    def _secrets(self) -> Any:
        if self.ctx.secrets is None:
            raise ResourceFailed(handler_message("the local Secrets Manager is not running", "NotStabilized"))
        return self.ctx.secrets

    async def put_parameter(self, parameter: Parameter) -> None:
        self._parameters().ensure(
            parameter.name,
            parameter.value,
            type=parameter.type,
            template_key=f"{parameter.stack}/{parameter.logical_id}",
            description=parameter.description,
            tier=parameter.tier,
            data_type=parameter.data_type,
            allowed_pattern=parameter.allowed_pattern,
        )

    async def delete_parameter(self, name: str) -> None:
        self._parameters().delete(name)

    async def put_secret(self, spec: SecretSpec) -> None:
        from albfargate.backing.passwords import PasswordError, generated_secret_string

        def make() -> str | None:
            if spec.generate is not None:
                try:
                    return generated_secret_string(spec.generate, self.rng)
                except PasswordError as exc:
                    raise ResourceFailed(handler_message(str(exc), "InvalidRequest")) from None
            return spec.secret_string

        self._secrets().ensure(
            arn=spec.arn,
            name=spec.name,
            template_key=spec.key,
            make_value=make,
            literal=spec.generate is None,
            description=spec.description,
            kms_key_id=spec.kms_key_id,
            tags=spec.tags,
            owning_service=spec.owning_service,
        )

    async def delete_secret(self, arn: str) -> None:
        self._secrets().delete(arn)

    def ssm_parameter(self, name: str) -> str | None:
        store = self.ctx.parameters
        if store is None:
            return None
        rec = store.find(name)
        return None if rec is None else str(rec.value)

    # ---- templates by URL --------------------------------------------------------------------------------
    async def read_object(self, bucket: str, key: str, version_id: str | None) -> tuple[int, bytes, str]:
        """(status, body, S3 message) of a GET of one object in the local S3."""
        if self.s3 is None:
            return 501, b"", "the local S3 endpoint is not running (pip install 'albfargate[s3]')"
        target = f"/{quote(bucket)}/{quote(key)}"
        if version_id:
            target += f"?versionId={quote(version_id)}"
        reply = await self._s3_call("GET", target)
        if reply.status >= 300:
            return reply.status, b"", self._s3_error(reply)[1]
        return reply.status, reply.body, ""


def _forwards_to(actions: Any, arn: str) -> bool:
    return any(
        isinstance(a, ForwardAction) and any(t.target_group_arn == arn for t in a.target_groups)
        for a in actions
    )


def _xml(text: str) -> str:
    from xml.sax.saxutils import escape

    return escape(text)
