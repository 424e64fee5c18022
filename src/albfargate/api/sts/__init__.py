"""AWS STS (query protocol, version 2011-06-15): who the caller is and the roles it assumes, for the CDK
CLI and the SDKs (``handlers.py``)."""
