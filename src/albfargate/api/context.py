"""What every handler receives: the backend, the configuration store and a wall clock."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from albfargate.api.backend import Backend
from albfargate.api.store import ConfigStore


@dataclass(slots=True)
class Context:
    backend: Backend
    store: ConfigStore
    clock: Callable[[], float] = field(default=time.time)
    secrets: Any = None  # backing.store.SecretStore of the running system (Secrets Manager), if any
    parameters: Any = None  # backing.store.ParameterStore (SSM Parameter Store), if any
    cloudformation: Any = None  # api.cloudformation.service.CloudFormationApi when the endpoint serves it
    ecr: Any = None  # api.ecr.service.EcrService (repositories, the local registry), if any
    databases: Any = None  # () -> backing.manager.BackingManager: runs CloudFormation's RDS databases


Params = Mapping[str, Any]
Result = dict[str, Any]
Handler = Callable[[Context, Params], Result]
