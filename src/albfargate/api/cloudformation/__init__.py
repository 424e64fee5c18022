"""The CloudFormation API (query protocol, 2010-05-15) over the local stack engine (``albfargate.cfn``):
``handlers`` (operation -> function), ``views`` (records -> AWS shapes), ``system`` (the running system as
the live providers drive it), ``service`` (the engine, the system and TemplateURL reading, made once per
endpoint)."""
