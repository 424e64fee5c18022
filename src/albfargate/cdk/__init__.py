"""CDK v2 constructs for the define step; never imported by the local runtime.

``LoadBalancedWebService`` (``service.py``) imports aws_cdk, so it is loaded on first use: its props
(``props.py``) and their validation (``validation.py``) stay importable, and testable, without aws_cdk and
its jsii kernel.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from albfargate.cdk.props import LoadBalancedWebServiceProps
from albfargate.cdk.validation import ServicePropsError

if TYPE_CHECKING:
    from albfargate.cdk.service import LoadBalancedWebService

__all__ = ["LoadBalancedWebService", "LoadBalancedWebServiceProps", "ServicePropsError"]


def __getattr__(name: str) -> object:
    if name == "LoadBalancedWebService":
        from albfargate.cdk.service import LoadBalancedWebService

        return LoadBalancedWebService
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
