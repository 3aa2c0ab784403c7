"""The OpenAPI 3.1 description of the JSON API, served at /api/openapi.json (public)."""

from __future__ import annotations

from quote_service.domain.model import STATUSES

_DECIMAL = {"oneOf": [{"type": "string", "pattern": r"^-?\d+(\.\d+)?$"}, {"type": "number"}]}
_ERRORS = {
    "type": "object",
    "required": ["errors"],
    "properties": {"errors": {"type": "array", "items": {
        "type": "object", "required": ["field", "message"],
        "properties": {"field": {"type": "string"}, "message": {"type": "string"}}}}},
}
_ERROR = {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}


def _response(description: str, schema: dict | None = None) -> dict:
    body = {"description": description}
    if schema is not None:
        body["content"] = {"application/json": {"schema": schema}}
    return body


_STATUS = {"type": "string", "enum": list(STATUSES)}
# Every operation needs a token (web/auth.py): 401 without a valid one; 403 where the token's
# role may not act (viewers read, only sales and admin write).
_UNAUTHORIZED = {"401": {
    "description": "No token, or a token that is unknown, revoked or of a deactivated user",
    "headers": {"WWW-Authenticate": {"schema": {"type": "string"},
                                     "description": 'Bearer realm="quote-service"'}},
    "content": {"application/json": {"schema": _ERROR}}}}
_FORBIDDEN = {"403": _response("The token's role may not do this (viewers only read)", _ERROR)}

_SECURITY_SCHEMES = {"bearer": {
    "type": "http", "scheme": "bearer",
    "description": "An API token from `quote-service tokens create <email> --name <name>`, sent "
                   "as `Authorization: Bearer <token>`."}}

_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
_NULLABLE_TEXT = {"type": ["string", "null"]}
_DELIVERY = {"type": "object", "properties": {
    "id": {"type": "integer"},
    "kind": {"type": "string", "enum": ["initial", "retry", "resend"]},
    "recipient": {"type": "string"},
    "state": {"type": "string", "enum": [
        "pending", "sending", "accepted", "unknown", "failed", "processed", "delivered",
        "deferred", "bounced", "dropped", "spam"],
        "description": "`unknown`: the request left and no answer came back, so the email may "
                       "or may not have gone out; it is never sent again automatically"},
    "provider": _NULLABLE_TEXT, "provider_message_id": _NULLABLE_TEXT,
    "attempts": {"type": "integer"}, "last_error": _NULLABLE_TEXT,
    "accepted_at": {"type": ["string", "null"], "format": "date-time"}}}
_QUOTATION_REF = {"$ref": "#/components/schemas/Quotation"}

OPENAPI = {
    "openapi": "3.1.0",
    "info": {"title": "Quote service", "version": "1.0.0",
             "description": "Submit quotations; they are rendered to PDF and emailed in the "
                            "background."},
    "paths": {
        "/api/quotations": {
            "post": {
                "summary": "Submit a quotation",
                "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False,
                                "schema": {"type": "string", "maxLength": 200}}],
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Submission"}}}},
                "responses": {
                    "202": _response("Accepted and queued", {"$ref": "#/components/schemas/Accepted"}),
                    "400": _response("Malformed JSON", _ERROR),
                    "409": _response("Idempotency-Key reused with another body", _ERROR),
                    "413": _response("Body over 1 MiB", _ERROR),
                    "415": _response("Not JSON", _ERROR),
                    "422": _response("Invalid fields, all listed", _ERRORS),
                    "503": _response("Database unavailable", _ERROR),
                    **_UNAUTHORIZED, **_FORBIDDEN,
                },
            },
            "get": {
                "summary": "List quotations, newest first (keyset pagination)",
                "parameters": [
                    {"name": "status", "in": "query", "schema": _STATUS},
                    {"name": "limit", "in": "query",
                     "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}},
                    {"name": "before", "in": "query", "schema": {"type": "integer"},
                     "description": "Return quotations with an id below this one"},
                ],
                "responses": {"200": _response("A page", {"type": "object", "properties": {
                    "items": {"type": "array", "items": _QUOTATION_REF},
                    "next": {"type": ["string", "null"]}}}),
                    "422": _response("Invalid parameters", _ERRORS), **_UNAUTHORIZED},
            },
        },
        "/api/quotations/{id}": {"get": {
            "summary": "One quotation with its lines, deliveries and events",
            "parameters": [_ID],
            "responses": {"200": _response("The quotation", _QUOTATION_REF),
                          "404": _response("Not found", _ERROR), **_UNAUTHORIZED}}},
        "/api/quotations/{id}/retry": {"post": {
            "summary": "Resume a failed quotation from the step that failed",
            "parameters": [_ID],
            "responses": {"202": _response("Queued again", _QUOTATION_REF),
                          "404": _response("Not found", _ERROR),
                          "409": _response("Not failed, a job is already queued, or the last "
                                           "email's outcome is unknown (needs_reconciliation)",
                                           _ERROR),
                          **_UNAUTHORIZED, **_FORBIDDEN}}},
        "/api/quotations/{id}/resend": {"post": {
            "summary": "Email the stored PDF again as a new delivery",
            "parameters": [_ID],
            "responses": {"202": _response("Queued", _QUOTATION_REF),
                          "404": _response("Not found", _ERROR),
                          "409": _response("No PDF yet, or a job is already queued", _ERROR),
                          **_UNAUTHORIZED, **_FORBIDDEN}}},
    },
    "security": [{"bearer": []}],
    "components": {"securitySchemes": _SECURITY_SCHEMES, "schemas": {
        "Submission": {
            "type": "object", "required": ["customer", "currency", "lines"],
            "additionalProperties": False,
            "properties": {
                "customer": {"type": "object", "required": ["name", "email"],
                             "additionalProperties": False, "properties": {
                                 "name": {"type": "string", "maxLength": 200},
                                 "email": {"type": "string", "format": "email"},
                                 "company": {"type": "string", "maxLength": 200},
                                 "address": {"type": "string", "maxLength": 1000}}},
                "currency": {"type": "string", "example": "EUR"},
                "valid_until": {"type": "string", "format": "date",
                                "description": "Defaults to 30 days ahead"},
                "notes": {"type": "string", "maxLength": 5000},
                "template": {"type": "string", "default": "standard"},
                "lines": {"type": "array", "minItems": 1, "maxItems": 200, "items": {
                    "type": "object", "required": ["description", "quantity", "unit_price"],
                    "additionalProperties": False, "properties": {
                        "description": {"type": "string", "maxLength": 1000},
                        "quantity": _DECIMAL, "unit_price": _DECIMAL,
                        "tax_rate": _DECIMAL, "discount_pct": _DECIMAL}}},
            },
        },
        "Accepted": {"type": "object", "properties": {
            "id": {"type": "integer"}, "number": {"type": "string"},
            "status": _STATUS, "total": {"type": "string"},
            "links": {"type": "object"}}},
        "Quotation": {"type": "object", "properties": {
            "id": {"type": "integer"}, "number": {"type": "string"},
            "status": _STATUS, "total": {"type": "string"},
            "currency": {"type": "string"}, "last_error": {"type": ["string", "null"]},
            "pdf_generated_at": {"type": ["string", "null"], "format": "date-time"},
            "sent_at": {"type": ["string", "null"], "format": "date-time"},
            "attempts": {"type": "integer"}, "lines": {"type": "array"},
            "submitted_by": {"type": ["string", "null"], "format": "email",
                             "description": "The account that submitted it (null for "
                                            "quotations older than accounts)"},
            "deliveries": {"type": "array", "items": _DELIVERY,
                           "description": "Oldest first: the first email, then each retry or "
                                          "resend"},
            "needs_reconciliation": {
                "type": "boolean",
                "description": "True when the latest delivery's state is `unknown`: nothing "
                               "will send it again or move the quotation on (it stays "
                               "`delivering`, or `failed` with retry refused). Check the mail "
                               "provider for it (SendGrid: custom args `delivery_id` and "
                               "`quotation_number`), then resend if it was not delivered; a "
                               "provider webhook event settles it by itself."},
            "links": {"type": "object"}}},
    }},
}
