"""CDK v2 constructs for the define step. Imports aws_cdk; never imported by the local runtime."""

from albfargate.cdk.service import LoadBalancedWebService
from albfargate.cdk.validation import ServicePropsError

__all__ = ["LoadBalancedWebService", "ServicePropsError"]
