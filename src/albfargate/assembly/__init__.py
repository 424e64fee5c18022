"""Reads a CDK cloud assembly (or a plain CloudFormation template) into a :class:`SystemModel`."""
