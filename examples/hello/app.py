#!/usr/bin/env python3
"""hello: a small web service defined with albfargate's LoadBalancedWebService construct.

`albfargate synth examples/hello` writes cdk.out; `albfargate up examples/hello` runs it locally (the
process driver uses albfargate.toml, no Docker); `albfargate deploy examples/hello` deploys it to AWS.
"""

from pathlib import Path

import aws_cdk as cdk
from constructs import Construct

from albfargate.cdk import LoadBalancedWebService

HERE = Path(__file__).resolve().parent


class HelloStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs: object) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        self.web = LoadBalancedWebService(
            self,
            "Hello",
            directory=str(HERE / "service"),  # built from service/Dockerfile for AWS and Docker
            container_name="web",
            container_port=8080,
            environment={"GREETING": "Hello"},
            desired_count=2,
            health_check_path="/health",
            health_check_interval=cdk.Duration.seconds(10),
            min_tasks=2,
            max_tasks=4,
            cpu_target_percent=60,
            requests_per_target=200,
        )


app = cdk.App()
HelloStack(app, "HelloStack")
app.synth()
