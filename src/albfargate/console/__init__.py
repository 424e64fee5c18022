"""The web console: topology, target health, deployments, events, logs."""
