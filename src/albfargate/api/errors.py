"""The one exception type every API handler raises: an AWS error code, its message and HTTP status.

Each protocol serializer turns it into its own wire format (JSON ``{"__type","message"}`` or the query
protocol's ``<ErrorResponse>``). Anything else escaping a handler is a bug and is answered as a 500
``ServerException`` / ``InternalFailure`` without a traceback on the wire."""

from __future__ import annotations


class ApiError(Exception):
    """An AWS error: ``code`` is the short error code (``ServiceNotFoundException``, ``RuleNotFound``)."""

    def __init__(self, code: str, message: str, *, status: int = 400, sender: bool = True) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.sender = sender  # query protocol <Type>Sender</Type> (client fault) vs Receiver
