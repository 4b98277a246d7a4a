"""How a side effect's sender says it failed: worth another try later, or not."""


class DeliveryFailed(Exception):
    """The mail server or the endpoint could not take it now (down, timeout, 5xx, 429).

    `status` and `body` are the HTTP answer, when there was one.
    """

    def __init__(self, message: str, *, status: int | None = None, body: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class DeliveryRefused(DeliveryFailed):
    """Retrying the same message cannot help (invalid payload, refused recipient, a 4xx, an
    integration switched off since): the side effect goes straight to `dead`."""
