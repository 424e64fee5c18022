"""A local CloudFormation engine over the system model: stacks, change sets, resource providers, events
and statuses as AWS writes them (docs/cloudformation.md).

- ``model``: the vocabulary (stack/resource statuses, stack, resource, event and change-set records, their
  JSON form for the state directory) -- pure.
- ``statuses``: the stack status machine as a table, and which statuses allow which operation -- pure.
- ``templates``: reading a template, its parameters (SSM-typed ones too), capabilities and the checks
  CloudFormation makes before it changes anything, with AWS's messages -- pure.
- ``planner``: old template + new template (+ parameters) -> the change set's ``Changes`` (Add / Modify /
  Remove, Replacement True / False / Conditional) and the ordered operations -- pure.
- ``evaluate``: a resource's properties, physical id, attributes and model objects, outputs and exports,
  through ``albfargate.assembly`` (the only intrinsic evaluator) -- pure.
- ``providers``: the provider registry (``register(type, provider)``); every type without a live provider
  is an inert record.
- ``live``: the live providers (ELBv2, ECS, Application Auto Scaling, S3, SSM, Secrets Manager) over the
  :class:`~albfargate.cfn.live.LiveSystem` protocol (the engine's public commands).
- ``operations``: running an operation (create, update, delete, their rollbacks, the recovery after a
  restart), the events, the records and their writing -- the base of the stack engine.
- ``stacks``: the stack engine's requests (CreateStack, UpdateStack, DeleteStack, change sets) and their
  checks.
- ``persist``: the crash-safe record of the stacks in the state directory.
- ``restore``: the model of the recorded stacks, which ``up`` runs again.
- ``urls``: where an S3 ``TemplateURL`` points -- pure.

It imports ``albfargate.assembly`` and ``albfargate.model`` only; the API adapter
(``albfargate.api.cloudformation``) gives it the running system."""
