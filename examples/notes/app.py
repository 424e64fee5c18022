#!/usr/bin/env python3
"""notes: a web service with a PostgreSQL database, a generated secret, an S3 bucket and an SSM parameter.

`albfargate up examples/notes` runs all of it locally with nothing written by hand: a real PostgreSQL
server for the database (its password generated once into the local Secrets Manager secret), the task's
``DB_PASSWORD`` from that secret, ``DB_HOST``/``DB_PORT`` from the database's endpoint. `albfargate deploy
examples/notes` deploys the same app to AWS.
"""

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from albfargate.cdk import LoadBalancedWebService

HERE = Path(__file__).resolve().parent


class NotesStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs: object) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        vpc = ec2.Vpc(self, "Vpc", max_azs=2, nat_gateways=1)
        db = rds.DatabaseInstance(
            self,
            "Db",
            engine=rds.DatabaseInstanceEngine.postgres(version=rds.PostgresEngineVersion.VER_16),
            instance_type=ec2.InstanceType.of(ec2.InstanceClass.T4G, ec2.InstanceSize.MICRO),
            vpc=vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            credentials=rds.Credentials.from_generated_secret("notes"),
            database_name="notes",
            removal_policy=cdk.RemovalPolicy.DESTROY,
            deletion_protection=False,
            storage_encrypted=True,
        )
        bucket = s3.Bucket(
            self,
            "Attachments",
            removal_policy=cdk.RemovalPolicy.DESTROY,
            auto_delete_objects=False,
            enforce_ssl=True,
        )
        title = ssm.StringParameter(self, "Title", string_value="My notes")
        self.web = LoadBalancedWebService(
            self,
            "Web",
            directory=str(HERE / "service"),
            container_name="web",
            container_port=8080,
            vpc=vpc,
            desired_count=1,
            min_tasks=1,
            max_tasks=2,
            health_check_path="/health",
            health_check_interval=cdk.Duration.seconds(10),
            environment={
                "DB_HOST": db.db_instance_endpoint_address,
                "DB_PORT": db.db_instance_endpoint_port,
                "DB_NAME": "notes",
                "BUCKET": bucket.bucket_name,
                "TITLE_PARAMETER": title.parameter_name,
                "DB_SECRET_ARN": db.secret.secret_arn if db.secret else "",
            },
            secrets={
                "DB_USER": ecs.Secret.from_secrets_manager(db.secret, "username"),  # type: ignore[arg-type]
                "DB_PASSWORD": ecs.Secret.from_secrets_manager(db.secret, "password"),  # type: ignore[arg-type]
                "TITLE": ecs.Secret.from_ssm_parameter(title),
            },
        )
        db.connections.allow_default_port_from(self.web.service)
        bucket.grant_read_write(self.web.task_definition.task_role)
        title.grant_read(self.web.task_definition.task_role)
        if db.secret is not None:
            db.secret.grant_read(self.web.task_definition.task_role)


app = cdk.App()
NotesStack(app, "NotesStack")
app.synth()
