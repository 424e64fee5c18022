"""The app's other AWS resources as real local servers and stores (DESIGN.md, "Growing the shape").

Each kind has a pure part (what the template asks for -> a spec; secret generation; parsing) and an I/O
part (a runner that starts, health-checks and stops its server, or a store that keeps values), with its
data under ``<state_dir>/data/<kind>/<logical id or name>/``; ``albfargate down --volumes`` deletes
``<state_dir>/data/``.

Modules
- ``passwords`` (pure): Secrets Manager's GetRandomPassword rules and ``GenerateSecretString``.
- ``references`` (pure): dynamic references (``{{resolve:secretsmanager:...}}``, ``{{resolve:ssm:...}}``),
  the endpoint references of databases, ECS ``ValueFrom`` forms, and their substitution in text.
- ``endpoints`` (pure): a database's local endpoint -> the attribute values and the connection URL.
- ``store``: the local secrets (versions, stages) and parameters, kept in ``data/secretsmanager/`` and
  ``data/ssm/`` (mode 0600; values are never printed or logged).
- ``ports``: choosing a database's local port (its template port, else the next free one, printed).
- ``postgres``, ``mysql``: the database runners (real servers, one per database resource: PostgreSQL,
  MariaDB); ``server``: what they share (paths, spawning, stopping, the status record).
- ``dbversions`` (pure): what ``EngineVersion`` asks for, a local server's version, the one line when they
  differ.
- ``templates``: initialised data directories cached per server build and copied for new databases.
- ``manager``: what the engine calls: start everything in order (stores, databases, attachments), resolve
  references for tasks and outputs, status, stop everything.

- ``s3`` (the S3 side of the AWS endpoint, moto's S3 backend), ``s3_store`` (its durable copy in
  ``data/s3/``), ``s3_requests`` (pure: routing S3 requests, what a request may have changed)."""
