"""The web console (docs/console.md): an HTTP server on 127.0.0.1 that the supervisor runs beside the
listeners and the AWS endpoint, with the topology of the running system, live updates pushed by
Server-Sent Events from the control plane's change notifications, traffic series sampled from the load
balancer's counters, a requests timeline, a rule tester over ``alb.rules``, per-service deployments,
events, tasks and scaling, log tails, and actions through the engine's commands.

Modules: ``http`` (wire pieces, pure), ``security`` (Host guard, CSRF token and Origin, masking),
``views`` (model -> JSON, pure), ``explain`` (the rule tester, pure), ``metrics`` (the series, pure),
``timeline`` (the requests timeline, pure), ``topology`` (the read side over the engine), ``hub`` (event
streams), ``live`` (change notifications -> events), ``sampler`` (the counters and the exchange tap),
``logs`` (log tails), ``actions`` (the engine commands), ``server`` (the HTTP server). The front end's
files are in ``static/``."""
