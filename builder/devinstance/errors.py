"""Why the dev instance refuses a request; the HTTP layer turns it into a 4xx answer."""

from __future__ import annotations


class RequestRejected(ValueError):
    """A Fulcio or Rekor request the dev instance will not honour (bad token, CSR or entry)."""

    def __init__(self, message: str, status: int = 400) -> None:
        self.status = status
        super().__init__(message)
