"""Reads a CDK cloud assembly (or a plain CloudFormation template) into a :class:`SystemModel`.

The only package that knows CloudFormation: ``manifest`` (cloud assembly + asset manifests), ``template``
(JSON/YAML), ``intrinsics`` (pure resolver), ``registry`` (type -> converter; unknown types listed as not
emulated), converters ``elbv2``, ``ecs``, ``autoscaling``, and ``loader`` (stacks -> one model)."""

from albfargate.assembly.loader import load_assembly, load_template, model_from_items, model_from_templates

__all__ = ["load_assembly", "load_template", "model_from_items", "model_from_templates"]
