"""albfargate: an Application Load Balanced Fargate service, defined with AWS CDK v2 and run locally."""

__version__ = "0.1.0"
