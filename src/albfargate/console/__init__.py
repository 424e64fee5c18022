"""Reserved for the web console (topology, target health, deployments, events, logs). Not built yet: no
issue has asked for it so far. It holds no code; the layer contracts in pyproject.toml already place it
beside ``api``. Until it exists, ``albfargate status`` and the AWS-compatible endpoint show the same state."""
