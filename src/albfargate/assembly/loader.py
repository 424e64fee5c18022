"""From templates to one :class:`SystemModel`: per stack, parameters and conditions are evaluated, every
resource whose type has a converter becomes model values, every other resource is listed as not emulated;
the ``Outputs`` with an ``Export`` feed ``Fn::ImportValue`` of the stacks that deploy later.

Owns: :class:`StackScope` (the name space of one stack: Ref, GetAtt, ImportValue), the loading order and
the grouping of converter results into the model."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from albfargate.errors import AssemblyError
from albfargate.model import (
    Cluster,
    ImageAsset,
    Listener,
    LoadBalancer,
    NotEmulated,
    Rule,
    ScalableTarget,
    Service,
    SystemModel,
    TargetGroup,
    TargetTrackingPolicy,
    TaskDefinition,
)
from albfargate.model.backing import Database, Parameter, SecretSpec, SecretTargetAttachment
from albfargate.model.s3 import Bucket

from . import registry
from .context import ResourceContext, location
from .dependencies import CircularDependencyError, dependency_order
from .intrinsics import NO_VALUE, IntrinsicError, Resolver, to_text
from .manifest import read_assembly
from .template import read_template

SSM_PARAMETER_PREFIX = "AWS::SSM::Parameter::Value<"


def ssm_placeholder(parameter_name: str) -> str:
    """The local stand-in for an SSM-typed parameter (no SSM locally): ``ssm:<parameter name>``."""
    return f"ssm:{parameter_name}"


class StackScope:
    """The name space of one stack: parameters, conditions, resources (with their Ref and GetAtt values,
    computed on first use) and the exports of the stacks loaded before it."""

    def __init__(
        self,
        stack: str,
        template: Mapping[str, Any],
        *,
        assets: Sequence[ImageAsset] = (),
        exports: Mapping[str, Any] | None = None,
        parameter_values: Mapping[str, Any] | None = None,
        stack_id: str | None = None,
        physical_ids: Mapping[str, Any] | None = None,
        attributes: Mapping[str, Mapping[str, Any]] | None = None,
        seed_suffixes: Mapping[str, str] | None = None,
        ssm_values: Mapping[str, str] | None = None,
    ) -> None:
        """``stack_id``, ``physical_ids``, ``attributes``, ``seed_suffixes`` and ``ssm_values`` are what
        a CloudFormation engine knows of a deployed stack: its ``AWS::StackId``; the recorded ``Ref``
        value and ``Fn::GetAtt`` values of resources that exist (they win over the converters' own
        values: a task definition's registered revision, say); the seed suffix of a resource replaced
        by an update (its new ids); and the values of the SSM parameters that SSM-typed template
        parameters name (without them such a parameter is the placeholder ``ssm:<name>``)."""
        self.stack = stack
        self.template = template
        self.physical_ids: Mapping[str, Any] = physical_ids or {}
        self.known_attributes: Mapping[str, Mapping[str, Any]] = attributes or {}
        self.seed_suffixes: Mapping[str, str] = seed_suffixes or {}
        self.ssm_values = ssm_values
        resources = template.get("Resources") or {}
        self.resources: dict[str, Mapping[str, Any]] = {}
        for logical_id, resource in resources.items():
            if not isinstance(resource, dict) or not isinstance(resource.get("Type"), str):
                raise AssemblyError(f"{location(stack, str(logical_id), 'Type')}: resource has no Type")
            self.resources[str(logical_id)] = resource
        self.assets = tuple(assets)
        self.exports: Mapping[str, Any] = exports if exports is not None else {}
        self._missing_parameters: set[str] = set()
        parameters = self._parameters(template.get("Parameters") or {}, parameter_values or {})
        self.resolver = Resolver(
            stack_name=stack,
            stack_id=stack_id,
            parameters=parameters,
            conditions=template.get("Conditions") or {},
            mappings=template.get("Mappings") or {},
            resource_ref=self._ref,
            resource_att=self._att,
            import_value=self._import,
        )
        self._contexts: dict[str, ResourceContext] = {}
        self._refs: dict[str, Any] = {}
        self._atts: dict[tuple[str, str], Any] = {}
        self._in_progress: set[tuple[str, str]] = set()

    # ---- parameters ------------------------------------------------------------------------------

    def _parameters(self, declared: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, decl in declared.items():
            decl = decl if isinstance(decl, dict) else {}
            ptype = str(decl.get("Type", "String"))
            value = given.get(name, decl.get("Default"))
            if value is None:
                self._missing_parameters.add(name)
                continue
            if ptype.startswith(SSM_PARAMETER_PREFIX):
                inner = ptype[len(SSM_PARAMETER_PREFIX) : -1]
                known = self.ssm_values.get(to_text(value)) if self.ssm_values is not None else None
                if known is not None:
                    out[name] = (
                        [v.strip() for v in known.split(",")]
                        if inner.startswith("List<") or inner == "CommaDelimitedList"
                        else known
                    )
                    continue
                placeholder = ssm_placeholder(to_text(value))
                out[name] = [placeholder] if inner.startswith("List<") else placeholder
            elif ptype == "CommaDelimitedList" or ptype.startswith("List<"):
                out[name] = (
                    [to_text(v) for v in value]
                    if isinstance(value, list)
                    else [v.strip() for v in to_text(value).split(",")]
                )
            else:
                out[name] = value
        return out

    # ---- resources -------------------------------------------------------------------------------

    def context(self, logical_id: str) -> ResourceContext:
        ctx = self._contexts.get(logical_id)
        if ctx is None:
            ctx = ResourceContext(
                self,
                logical_id,
                self.resources[logical_id],
                seed_suffix=self.seed_suffixes.get(logical_id, ""),
            )
            self._contexts[logical_id] = ctx
        return ctx

    def active(self, logical_id: str) -> bool:
        """False when the resource's ``Condition`` is false (CloudFormation does not create it)."""
        condition = self.resources[logical_id].get("Condition")
        if condition is None:
            return True
        try:
            return self.resolver.condition(condition, "Condition")
        except IntrinsicError as exc:
            raise AssemblyError(f"{location(self.stack, logical_id, exc.path)}: {exc.message}") from None

    def _guard(self, key: tuple[str, str], path: str) -> None:
        if key in self._in_progress:
            raise IntrinsicError(path, f"circular reference through {key[0]}")
        if not self.active(key[0]):
            raise IntrinsicError(path, f"resource '{key[0]}' is not created: its condition is false")

    def _ref(self, logical_id: str, path: str) -> Any:
        if logical_id in self._missing_parameters:
            raise IntrinsicError(path, f"parameter '{logical_id}' has no Default and no value was given")
        if logical_id in self._refs:
            return self._refs[logical_id]
        if logical_id not in self.resources:
            raise KeyError(logical_id)
        key = (logical_id, "Ref")
        self._guard(key, path)
        if logical_id in self.physical_ids:
            self._refs[logical_id] = self.physical_ids[logical_id]
            return self._refs[logical_id]
        self._in_progress.add(key)
        try:
            value = registry.ref(self.context(logical_id))
        finally:
            self._in_progress.discard(key)
        self._refs[logical_id] = value
        return value

    def _att(self, logical_id: str, attribute: str, path: str) -> Any:
        key = (logical_id, attribute)
        if key in self._atts:
            return self._atts[key]
        if logical_id not in self.resources:
            raise KeyError(logical_id)
        self._guard(key, path)
        known = self.known_attributes.get(logical_id)
        if known is not None and attribute in known:
            self._atts[key] = known[attribute]
            return known[attribute]
        self._in_progress.add(key)
        try:
            value = registry.get_att(self.context(logical_id), attribute)
        finally:
            self._in_progress.discard(key)
        self._atts[key] = value
        return value

    def _import(self, name: str, path: str) -> Any:
        return self.exports[name]

    def ref(self, logical_id: str, path: str) -> Any:
        """``Ref`` of a resource, raising AssemblyError (used by converters)."""
        try:
            return self.resolver.resolve({"Ref": logical_id}, path)
        except IntrinsicError as exc:
            raise AssemblyError(f"{location(self.stack, logical_id, exc.path)}: {exc.message}") from None

    def of_type(self, *types: str) -> Iterable[str]:
        for logical_id, resource in self.resources.items():
            if resource.get("Type") in types and self.active(logical_id):
                yield logical_id

    def references(self, logical_id: str, referrer: str) -> bool:
        """Whether ``referrer``'s properties mention ``logical_id`` by Ref or GetAtt (textual scan)."""
        text = json.dumps(self.resources[referrer].get("Properties") or {})
        return f'{{"Ref": "{logical_id}"}}' in text or f'["{logical_id}", ' in text

    # ---- assets ----------------------------------------------------------------------------------

    def image_asset(self, image: str) -> ImageAsset | None:
        """The Docker image asset an image URI (``<acct>.dkr.ecr.<region>.<suffix>/<repo>:<tag>``)
        names, if any."""
        if ".dkr.ecr." not in image or ":" not in image:
            return None
        repository, _, tag = image.rpartition(":")
        for asset in self.assets:
            if asset.image_tag == tag and (
                not asset.repository_name or repository.endswith("/" + asset.repository_name)
            ):
                return asset
        return None

    # ---- outputs ---------------------------------------------------------------------------------

    def exported(self) -> dict[str, Any]:
        """``{export name: value}`` of the stack's ``Outputs`` (conditions honoured)."""
        out: dict[str, Any] = {}
        for name, output in (self.template.get("Outputs") or {}).items():
            if not isinstance(output, dict) or "Export" not in output:
                continue
            where = f"Outputs.{name}"
            try:
                if "Condition" in output and not self.resolver.condition(output["Condition"], where):
                    continue
                export = self.resolver.resolve(output["Export"], f"{where}.Export")
                value = self.resolver.resolve(output.get("Value"), f"{where}.Value")
            except IntrinsicError as exc:
                raise AssemblyError(f"{location(self.stack, None, exc.path)}: {exc.message}") from None
            export_name = export.get("Name") if isinstance(export, dict) else None
            if not isinstance(export_name, str) or value is NO_VALUE:
                raise AssemblyError(f"{location(self.stack, None, where)}: Export needs a Name and a Value")
            out[export_name] = value
        return out


class _ModelBuilder:
    def __init__(self) -> None:
        self.stacks: list[str] = []
        self.load_balancers: list[LoadBalancer] = []
        self.listeners: list[Listener] = []
        self.rules: list[Rule] = []
        self.target_groups: list[TargetGroup] = []
        self.clusters: list[Cluster] = []
        self.task_definitions: list[TaskDefinition] = []
        self.services: list[Service] = []
        self.scalable_targets: list[ScalableTarget] = []
        self.scaling_policies: list[TargetTrackingPolicy] = []
        self.buckets: list[Bucket] = []
        self.not_emulated: list[NotEmulated] = []
        self.databases: list[Database] = []
        self.secrets: list[SecretSpec] = []
        self.secret_attachments: list[SecretTargetAttachment] = []
        self.parameters: list[Parameter] = []

    def add(self, item: object) -> None:
        lists: dict[type, list[Any]] = {
            LoadBalancer: self.load_balancers,
            Listener: self.listeners,
            Rule: self.rules,
            TargetGroup: self.target_groups,
            Cluster: self.clusters,
            TaskDefinition: self.task_definitions,
            Service: self.services,
            ScalableTarget: self.scalable_targets,
            TargetTrackingPolicy: self.scaling_policies,
            Bucket: self.buckets,
            NotEmulated: self.not_emulated,
            Database: self.databases,
            SecretSpec: self.secrets,
            SecretTargetAttachment: self.secret_attachments,
            Parameter: self.parameters,
        }
        target = lists.get(type(item))
        if target is None:  # pragma: no cover - a converter bug
            raise TypeError(f"converter returned {type(item).__name__}")
        target.append(item)

    def build(self, assets: Sequence[ImageAsset]) -> SystemModel:
        # A service may name a cluster the assembly does not define (``default`` when ``Cluster`` is
        # absent): it is added, with an empty logical id, so every service's cluster is in the model.
        known = {c.arn for c in self.clusters}
        for service in self.services:
            if service.cluster_arn not in known:
                known.add(service.cluster_arn)
                self.clusters.append(
                    Cluster(arn=service.cluster_arn, name=service.cluster_name, stack=service.stack)
                )
        return SystemModel(
            stacks=tuple(self.stacks),
            load_balancers=tuple(self.load_balancers),
            listeners=tuple(self.listeners),
            rules=tuple(self.rules),
            target_groups=tuple(self.target_groups),
            clusters=tuple(self.clusters),
            task_definitions=tuple(self.task_definitions),
            services=tuple(self.services),
            scalable_targets=tuple(self.scalable_targets),
            scaling_policies=tuple(self.scaling_policies),
            buckets=tuple(self.buckets),
            assets=tuple(assets),
            not_emulated=tuple(self.not_emulated),
            databases=tuple(self.databases),
            secrets=tuple(self.secrets),
            secret_attachments=tuple(self.secret_attachments),
            parameters=tuple(self.parameters),
        )


def model_from_items(
    items: Iterable[object], *, stacks: Sequence[str] = (), assets: Sequence[ImageAsset] = ()
) -> SystemModel:
    """A model of converter results (what :func:`albfargate.assembly.registry.convert` returns), grouped
    as :func:`model_from_templates` groups them: a CloudFormation engine builds the model of the stacks
    it deployed with it."""
    builder = _ModelBuilder()
    builder.stacks.extend(stacks)
    for item in items:
        builder.add(item)
    return builder.build(assets)


def _load_stack(builder: _ModelBuilder, scope: StackScope) -> None:
    try:
        dependency_order(scope.resources)  # CloudFormation refuses a template it cannot order
    except CircularDependencyError as exc:
        raise AssemblyError(f"stack {scope.stack}: {exc}") from None
    builder.stacks.append(scope.stack)
    for logical_id, resource in scope.resources.items():
        if not scope.active(logical_id):
            continue
        rtype = str(resource["Type"])
        for item in registry.convert(scope.context(logical_id), rtype):
            builder.add(item)


def model_from_templates(
    templates: Sequence[tuple[str, Mapping[str, Any]]],
    *,
    assets: Sequence[ImageAsset] = (),
    parameter_values: Mapping[str, Mapping[str, Any]] | None = None,
) -> SystemModel:
    """The model of ``(stack name, template)`` pairs loaded in the given order; exports of earlier stacks
    are visible to later ones."""
    builder = _ModelBuilder()
    exports: dict[str, Any] = {}
    for stack, template in templates:
        scope = StackScope(
            stack,
            template,
            assets=assets,
            exports=exports,
            parameter_values=(parameter_values or {}).get(stack),
        )
        _load_stack(builder, scope)
        for name, value in scope.exported().items():
            if name in exports:
                raise AssemblyError(f"stack {stack}: export '{name}' is already exported by another stack")
            exports[name] = value
    return builder.build(assets)


def load_assembly(cdk_out: Path) -> SystemModel:
    """Read a cloud assembly (``cdk.out``): manifest, every stack template (nested assemblies included),
    and the Docker image assets."""
    assembly = read_assembly(Path(cdk_out))
    templates = [(s.stack_name, read_template(s.template_path)) for s in assembly.stacks]
    return model_from_templates(templates, assets=assembly.assets)


def load_template(path: Path, *, stack_name: str | None = None) -> SystemModel:
    """Read one plain CloudFormation template (JSON or YAML). The stack name defaults to the file name
    without ``.template.json`` / ``.yaml`` / ``.json``."""
    path = Path(path)
    if stack_name is None:
        name = path.name
        for suffix in (".template.json", ".template.yaml", ".template.yml", ".json", ".yaml", ".yml"):
            if name.endswith(suffix):
                name = name[: -len(suffix)]
                break
        stack_name = name or "Stack"
    return model_from_templates([(stack_name, read_template(path))])
