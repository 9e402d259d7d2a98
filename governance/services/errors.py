"""Refusals that a person can read. A refused call has changed nothing."""


class Refused(Exception):
    """A service declined to act. `code` is stable for programs; `message` is for people."""

    code = "refused"
    # The HTTP status the API answers with.
    http_status = 400

    def __init__(self, message: str, *, code: str | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code

    def __str__(self):
        return self.message


class NotFound(Refused):
    code = "notFound"
    http_status = 404


class OutOfScope(Refused):
    code = "outOfScope"
    http_status = 403


class SeparationOfDuties(Refused):
    code = "separationOfDuties"
    http_status = 409


class Duplicate(Refused):
    code = "duplicate"
    http_status = 409


class InvalidInput(Refused):
    code = "invalidInput"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None):
        super().__init__(message, code=code)
        self.field = field


class NotAllowed(Refused):
    code = "notAllowed"
    http_status = 403


class InvalidState(Refused):
    """The object is no longer in a state that allows this (e.g. the stage was decided)."""

    code = "invalidState"
    http_status = 409


class RefusalFormMixin:
    """For forms that call a service: its refusal shows beside the field it names."""

    def add_refusal(self, refusal: Refused) -> None:
        field = getattr(refusal, "field", None)
        self.add_error(field if field in self.fields else None, refusal.message)
