"""Local account, region and deterministic AWS-format identifiers and ARNs (spec §10.1).

Every id is derived from a stable seed (stack name + logical id, or a counter the caller owns), so the
same assembly gives the same ARNs on every run."""

from __future__ import annotations

import hashlib

LOCAL_ACCOUNT = "000000000000"
LOCAL_REGION = "us-east-1"
PARTITION = "aws"
URL_SUFFIX = "amazonaws.com"


def hex_id(seed: str, length: int = 16) -> str:
    """A deterministic lower-case hex string of ``length`` characters derived from ``seed``."""
    out = ""
    counter = 0
    while len(out) < length:
        out += hashlib.sha256(f"{seed}#{counter}".encode()).hexdigest()
        counter += 1
    return out[:length]


def digits_id(seed: str, length: int = 19) -> str:
    """A deterministic decimal string (for deployment ids ``ecs-svc/<19 digits>``)."""
    n = int(hashlib.sha256(seed.encode()).hexdigest(), 16)
    s = str(n)
    return (s * ((length // len(s)) + 1))[:length].rjust(length, "1")


def elb_arn(resource: str, region: str = LOCAL_REGION, account: str = LOCAL_ACCOUNT) -> str:
    return f"arn:{PARTITION}:elasticloadbalancing:{region}:{account}:{resource}"


def load_balancer_arn(name: str, lb_id: str, lb_type: str = "app") -> str:
    return elb_arn(f"loadbalancer/{lb_type}/{name}/{lb_id}")


def listener_arn(lb_name: str, lb_id: str, listener_id: str, lb_type: str = "app") -> str:
    return elb_arn(f"listener/{lb_type}/{lb_name}/{lb_id}/{listener_id}")


def rule_arn(lb_name: str, lb_id: str, listener_id: str, rule_id: str, lb_type: str = "app") -> str:
    return elb_arn(f"listener-rule/{lb_type}/{lb_name}/{lb_id}/{listener_id}/{rule_id}")


def target_group_arn(name: str, tg_id: str) -> str:
    return elb_arn(f"targetgroup/{name}/{tg_id}")


def ecs_arn(resource: str, region: str = LOCAL_REGION, account: str = LOCAL_ACCOUNT) -> str:
    return f"arn:{PARTITION}:ecs:{region}:{account}:{resource}"


def cluster_arn(cluster: str) -> str:
    return ecs_arn(f"cluster/{cluster}")


def service_arn(cluster: str, service: str) -> str:
    return ecs_arn(f"service/{cluster}/{service}")


def task_arn(cluster: str, task_id: str) -> str:
    return ecs_arn(f"task/{cluster}/{task_id}")


def task_definition_arn(family: str, revision: int) -> str:
    return ecs_arn(f"task-definition/{family}:{revision}")


def container_arn(cluster: str, task_id: str, container_uuid: str) -> str:
    return ecs_arn(f"container/{cluster}/{task_id}/{container_uuid}")


def deployment_id(seed: str) -> str:
    return f"ecs-svc/{digits_id(seed)}"


def lb_dns_name(name: str, internal: bool, seed: str, region: str = LOCAL_REGION) -> str:
    digits = digits_id(seed, 10)
    prefix = "internal-" if internal else ""
    return f"{prefix}{name}-{digits}.{region}.elb.amazonaws.com"
