"""The one small HTTP/1.1 server of the control endpoints (the AWS endpoint, the task metadata endpoint,
the supervisor's control channel, the metrics endpoint and the web console): :mod:`albfargate.net.http`
is its pure part (heads, bodies' framing, answers, the loopback Host guard), :mod:`albfargate.net.server`
the asyncio shell (bind, connections, keep-alive, bodies, streams). The load balancer's data plane keeps
its own measured parser (``alb/http1.py``); this package imports nothing else of albfargate."""
