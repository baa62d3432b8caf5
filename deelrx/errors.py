"""Domain errors raised by services and selectors.

They carry the API error code and status so that `deelrx.api.exception_handler`
and the HTML views translate them once, the same way everywhere.
"""

from __future__ import annotations


class DomainError(Exception):
    status_code = 400
    code = "bad_request"
    default_message = "The request could not be processed."

    def __init__(self, message: str | None = None, *, details: dict | None = None, code: str | None = None):
        self.message = message or self.default_message
        self.details = details or {}
        if code:
            self.code = code
        super().__init__(self.message)


class ValidationFailed(DomainError):
    status_code = 400
    code = "validation_error"
    default_message = "Some fields are invalid."


class NotFound(DomainError):
    status_code = 404
    code = "not_found"
    default_message = "Not found."


class PermissionDenied(DomainError):
    status_code = 403
    code = "permission_denied"
    default_message = "You do not have permission to perform this action."


class Conflict(DomainError):
    status_code = 409
    code = "conflict"
    default_message = "The request conflicts with the current state."


class InvalidTransition(Conflict):
    code = "invalid_transition"
    default_message = "This status change is not allowed."

    def __init__(self, *, current: str, target: str, allowed: list[str] | None = None, message: str | None = None):
        super().__init__(
            message or f"Cannot move from '{current}' to '{target}'.",
            details={"current": current, "target": target, "allowed": sorted(allowed or [])},
        )


class BusinessRuleViolation(DomainError):
    status_code = 422
    code = "business_rule_violation"
    default_message = "The request breaks a business rule."


class FileTooLarge(DomainError):
    status_code = 413
    code = "file_too_large"
    default_message = "The file is too large."


class UnsupportedFileType(DomainError):
    status_code = 415
    code = "unsupported_file_type"
    default_message = "This type of file is not accepted."


class RequestTooLarge(DomainError):
    status_code = 413
    code = "request_too_large"
    default_message = "The request body is larger than the server accepts."
