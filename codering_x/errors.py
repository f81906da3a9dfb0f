"""The two ways a request ends without a result: the caller's fault, or the caller left."""

from __future__ import annotations


class RequestError(ValueError):
    """The request cannot be run as given: the caller's fault, a 4xx."""

    def __init__(self, code: str, message: str, details: object = None) -> None:
        super().__init__(message)
        self.code, self.message, self.details = code, message, details


class Cancelled(Exception):
    """The run was cancelled (its client went away); every process of it is dead."""
