"""The OpenAPI 3.1 description of the JSON API, served at /api/openapi.json (public)."""

from __future__ import annotations

from quote_service.domain.locales import SUPPORTED_LOCALES
from quote_service.domain.model import ANSWERS, STATUSES
from quote_service.domain.money import MINOR_UNITS
from quote_service.web.params import MAX_ID

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
_LIST_FILTER = {"type": "string", "enum": [*STATUSES, *ANSWERS],
                "description": "A status, or the customer's answer (accepted, declined)"}
# Control characters (C0, DEL, C1, line and paragraph separators), which single-line fields
# refuse; multi-line ones take line breaks (CR, LF) and tabs. Mirrors domain/validation.py.
_CONTROLS = "\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029"
_MULTILINE_CONTROLS = ("\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f"
                       "\\u2028\\u2029")
_EMAIL_PATTERN = (f"^ *[^@\\s<>\"',;{_CONTROLS}]+@[^@\\s<>\"',;{_CONTROLS}]+"
                  f"\\.[^@\\s<>\"',;.{_CONTROLS}]{{2,}} *$")


def _text(max_length: int, *, required: bool = False, multiline: bool = False) -> dict:
    """A text field: at most `max_length` characters; a required one has something besides
    spaces; control characters as `_CONTROLS` says."""
    controls = _MULTILINE_CONTROLS if multiline else _CONTROLS
    pattern = (f"^[^{controls}]*[^\\s{controls}][^{controls}]*$" if required
               else f"^[^{controls}]*$")
    return {"type": "string", "maxLength": max_length, "pattern": pattern}
_ID_SCHEMA = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
# Every operation needs a token (web/auth.py): 401 without a valid one; 403 where the token's
# role may not act (viewers read, only sales and admin write).
_UNAUTHORIZED = {"401": {
    "description": "No token, or a token that is unknown, revoked or of a deactivated user",
    "headers": {"WWW-Authenticate": {"schema": {"type": "string"},
                                     "description": 'Bearer realm="quote-service"'}},
    "content": {"application/json": {"schema": _ERROR}}}}
_FORBIDDEN = {"403": _response("The token's role may not do this (viewers only read)", _ERROR)}
# What any request can get: a request the HTTP server cannot read (granian answers it before
# the application, with no body), and the database down.
_ALWAYS = {
    "400": {"description": "A request the HTTP server cannot read (malformed headers or body)"},
    "431": {"description": "The request line and headers are too long (over about 400 KiB)"},
    "503": {**_response("Database unavailable", _ERROR),
            "headers": {"Retry-After": {"schema": {"type": "integer"}}}},
}
_NOT_FOUND = {"404": _response("No such quotation, or one the token's user may not see (the "
                               "same answer: ids of others are not confirmed)", _ERROR)}


def _common(*, writes: bool) -> dict:
    return {**_ALWAYS, **_UNAUTHORIZED, **(_FORBIDDEN if writes else {})}


_SECURITY_SCHEMES = {"bearer": {
    "type": "http", "scheme": "bearer",
    "description": "An API token from `quote-service tokens create <email> --name <name>`, sent "
                   "as `Authorization: Bearer <token>`."}}

_ID = {"name": "id", "in": "path", "required": True, "schema": _ID_SCHEMA, "example": 1}
_DELIVERY_ID = {"name": "delivery_id", "in": "path", "required": True, "schema": _ID_SCHEMA,
                "example": 1}
_NULLABLE_TEXT = {"type": ["string", "null"]}
_NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
_LINK = {"type": ["object", "null"], "description": "The customer link this email carried "
         "(never its token); null until the email is sent", "properties": {
             "state": {"type": "string", "enum": ["active", "expired", "revoked"]},
             "expires_at": {"type": "string", "format": "date-time"},
             "revoked_at": _NULLABLE_TIME, "revoked_by": _NULLABLE_TEXT}}
_DELIVERY = {"type": "object", "properties": {
    "id": {"type": "integer"},
    "kind": {"type": "string", "enum": ["initial", "retry", "resend", "answer_confirmation",
                                        "answer_notice"],
             "description": "The quotation's own emails, or those about the customer's "
                            "answer: a confirmation to the customer, a notice to the sales "
                            "user"},
    "recipient": {"type": "string"},
    "state": {"type": "string", "enum": [
        "pending", "sending", "accepted", "unknown", "failed", "processed", "delivered",
        "deferred", "bounced", "dropped", "spam"],
        "description": "`unknown`: the request left and no answer came back, so the email may "
                       "or may not have gone out; it is never sent again automatically"},
    "provider": _NULLABLE_TEXT, "provider_message_id": _NULLABLE_TEXT,
    "attempts": {"type": "integer"}, "last_error": _NULLABLE_TEXT,
    "accepted_at": _NULLABLE_TIME, "link": _LINK}}
_QUOTATION_REF = {"$ref": "#/components/schemas/Quotation"}
_ACTED = _response("The quotation after the action", _QUOTATION_REF)
_TOO_MANY = {"429": {
    **_response("Resend limit reached, per quotation or per recipient "
                "(RESEND_LIMIT_PER_QUOTATION, RESEND_LIMIT_PER_RECIPIENT per "
                "RESEND_WINDOW_SECONDS)", {**_ERROR, "properties": {
                    **_ERROR["properties"], "retry_after": {"type": "integer"}}}),
    "headers": {"Retry-After": {"schema": {"type": "integer"},
                                "description": "Seconds until a resend is possible"}}}}


def _action(operation_id: str, summary: str, responses: dict, parameters: list | None = None
            ) -> dict:
    return {"post": {"operationId": operation_id, "summary": summary,
                     "parameters": parameters or [_ID],
                     "responses": {**responses, **_NOT_FOUND, **_common(writes=True)}}}


# What a client can do next with a quotation it was just answered (OpenAPI links): its id.
_NEXT = {name: {"operationId": name, "parameters": {"id": "$response.body#/id"}}
         for name in ("getQuotation", "retryQuotation", "resendQuotation", "revokeLinks",
                      "sendQuotation")}
_SUBMISSION_BODY = {"required": True, "content": {"application/json": {
    "schema": {"$ref": "#/components/schemas/Submission"}}}}
_BODY_REFUSED = {
    "400": _response("Malformed JSON (or nested deeper than 32 levels)", _ERROR),
    "413": _response("Body over 1 MiB", _ERROR),
    "415": _response("Not JSON", _ERROR),
    "422": _response("Invalid fields, all listed (a field given twice too)", _ERRORS),
}
_CUSTOMER = {"type": "object", "required": ["id", "name", "email"], "properties": {
    "id": {"type": "integer"}, "name": {"type": "string"}, "email": {"type": "string"},
    "company": {"type": "string"}, "address": {"type": "string"},
    "locale": _NULLABLE_TEXT, "links": {"type": "object"}}}
_SEARCH = {"name": "q", "in": "query", "schema": {
    "type": "string", "maxLength": 200, "pattern": f"^[^{_CONTROLS}]*$"},
    "description": "Text found in the number, the customer's name, company or email (empty: "
                   "no search)"}


OPENAPI = {
    "openapi": "3.1.0",
    "info": {"title": "Quote service", "version": "1.0.0",
             "description": "Submit quotations; they are rendered to PDF and emailed in the "
                            "background."},
    "paths": {
        "/api/quotations": {
            "post": {
                "operationId": "submitQuotation",
                "summary": "Submit a quotation",
                "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False,
                                "schema": {"type": "string", "maxLength": 200}}],
                "requestBody": _SUBMISSION_BODY,
                "responses": {
                    "202": {**_response("Accepted and queued (a draft when `draft` is true)",
                                        {"$ref": "#/components/schemas/Accepted"}),
                            "headers": {"Location": {"schema": {"type": "string"}}},
                            "links": _NEXT},
                    "409": _response("Idempotency-Key reused with another body", _ERROR),
                    **_BODY_REFUSED,
                    **{k: v for k, v in _common(writes=True).items() if k != "400"},
                },
            },
            "get": {
                "operationId": "listQuotations",
                "summary": "List quotations, newest first (keyset pagination); a sales user's "
                           "own only (and their team's with SALES_SEE_TEAM)",
                "parameters": [
                    {"name": "status", "in": "query", "schema": _LIST_FILTER},
                    _SEARCH,
                    {"name": "customer", "in": "query", "schema": _ID_SCHEMA,
                     "description": "Only this customer's quotations"},
                    {"name": "limit", "in": "query",
                     "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}},
                    {"name": "before", "in": "query", "schema": _ID_SCHEMA,
                     "description": "Return quotations with an id below this one"},
                ],
                "responses": {"200": _response("A page", {
                    "type": "object", "required": ["items", "next"], "properties": {
                        "items": {"type": "array", "items": _QUOTATION_REF},
                        "next": {"type": ["string", "null"]}}}),
                    "422": _response("Invalid parameters", _ERRORS), **_common(writes=False)},
            },
        },
        "/api/quotations/{id}": {
            "get": {
                "operationId": "getQuotation",
                "summary": "One quotation with its lines, deliveries, events and versions",
                "parameters": [_ID],
                "responses": {"200": _response("The quotation", _QUOTATION_REF), **_NOT_FOUND,
                              **_common(writes=False)}},
            "put": {
                "operationId": "replaceDraft",
                "summary": "Replace a draft's (or ready quotation's) body: same number, its "
                           "PDF made again, nothing sent",
                "parameters": [_ID], "requestBody": _SUBMISSION_BODY,
                "responses": {"202": _ACTED, "409": _response(
                    "Not a draft or ready quotation, or its PDF is being made", _ERROR),
                    "405": {"description": "Not an id (the URL names no quotation)",
                            "headers": {"Allow": {"schema": {"type": "string"}}}},
                    **_BODY_REFUSED, **_NOT_FOUND,
                    **{k: v for k, v in _common(writes=True).items() if k != "400"}}},
        },
        "/api/quotations/{id}/send": _action(
            "sendQuotation", "Email a ready quotation's stored PDF (no second conversion)",
            {"202": _ACTED, "409": _response("Not ready (a draft whose PDF is stored)",
                                             _ERROR)}),
        "/api/quotations/{id}/revise": {"post": {
            "operationId": "reviseQuotation",
            "summary": "The next version of a sent, ready or expired quotation: same number, "
                       "its own PDF, a draft unless `draft` is false; the previous version "
                       "is superseded",
            "parameters": [_ID], "requestBody": _SUBMISSION_BODY,
            "responses": {
                "201": {**_response("The new version", _QUOTATION_REF),
                        "headers": {"Location": {"schema": {"type": "string"}}}},
                "409": _response("Not sent, ready or expired; answered; or already revised",
                                 _ERROR),
                **_BODY_REFUSED, **_NOT_FOUND,
                **{k: v for k, v in _common(writes=True).items() if k != "400"}}}},
        "/api/quotations/{id}/retry": _action(
            "retryQuotation", "Resume a failed quotation from the step that failed",
            {"202": _ACTED, "409": _response(
                "Not failed, a job is already queued, or the last email's outcome is unknown "
                "(needs_reconciliation)", _ERROR)}),
        "/api/quotations/{id}/resend": _action(
            "resendQuotation", "Email the stored PDF again as a new delivery, with a new customer link",
            {"202": _ACTED, "409": _response("No PDF yet, or a job is already queued", _ERROR),
             **_TOO_MANY}),
        "/api/quotations/{id}/revoke-links": _action(
            "revokeLinks", "Withdraw the customer links of every email of the quotation (they answer 410)",
            {"200": _ACTED}),
        "/api/quotations/{id}/deliveries/{delivery_id}/revoke-link": _action(
            "revokeDeliveryLink", "Withdraw the customer link of one email (it answers 410)", {"200": _ACTED},
            [_ID, _DELIVERY_ID]),
        "/api/customers": {"get": {
            "operationId": "listCustomers",
            "summary": "Customers of the user's team (every team's for viewers and admins), "
                       "by name; the first 50, or those matching `q`",
            "parameters": [{**_SEARCH, "description": "Text found in the name, company or "
                                                      "email"}],
            "responses": {"200": _response("Customers", {
                "type": "object", "required": ["items"],
                "properties": {"items": {"type": "array", "items": _CUSTOMER}}}),
                "422": _response("Invalid parameters", _ERRORS), **_common(writes=False)}}},
        "/api/customers/{id}": {"get": {
            "operationId": "getCustomer",
            "summary": "A customer with its latest quotations (those the user may see)",
            "parameters": [_ID],
            "responses": {"200": _response("The customer", {**_CUSTOMER, "properties": {
                **_CUSTOMER["properties"],
                "quotations": {"type": "array", "items": _QUOTATION_REF},
                "more_quotations": _NULLABLE_TEXT}}),
                "404": _response("No such customer, or another team's", _ERROR),
                **_common(writes=False)}}},
    },
    "security": [{"bearer": []}],
    "components": {"securitySchemes": _SECURITY_SCHEMES, "schemas": {
        "Submission": {
            "type": "object", "required": ["customer", "currency", "lines"],
            "example": {"customer": {"name": "Smith & Sons <Ltd>", "email": "buyer@example.com",
                                     "company": "Acme", "address": "1 Main St\nSpringfield"},
                        "currency": "EUR", "notes": "Thanks", "lines": [
                            {"description": "Widget", "quantity": "2", "unit_price": "99.50",
                             "tax_rate": "20"}]},
            "additionalProperties": False,
            "description": "A key given twice in one object is refused (422), as is any "
                           "field with a lone surrogate.",
            "properties": {
                "customer": {"type": "object", "required": ["name", "email"],
                             "additionalProperties": False, "properties": {
                                 "name": _text(200, required=True),
                                 "email": {"type": "string", "maxLength": 254,
                                           "pattern": _EMAIL_PATTERN},
                                 "company": _text(200),
                                 "address": _text(1000, multiline=True)}},
                "currency": {"type": "string", "enum": sorted(MINOR_UNITS), "example": "EUR"},
                "valid_until": {"type": "string", "format": "date",
                                "description": "From today to 366 days ahead; defaults to 30 "
                                               "days ahead"},
                "notes": _text(5000, multiline=True),
                "template": {"type": "string", "default": "standard"},
                "locale": {"type": "string", "enum": list(SUPPORTED_LOCALES),
                           "example": "de-DE",
                           "description": "BCP 47: the PDF's and the customer's emails' "
                                          "words, amounts and dates (CLDR); not given, a new "
                                          "quotation has the service's LOCALE, an edited or "
                                          "revised one keeps its own"},
                "draft": {"type": "boolean", "description": "Make and store the PDF without "
                          "sending it (status draft, then ready); a revision is a draft "
                          "unless this is false"},
                "lines": {"type": "array", "minItems": 1, "maxItems": 200, "items": {
                    "type": "object", "required": ["description", "quantity", "unit_price"],
                    "additionalProperties": False, "properties": {
                        "description": _text(1000, required=True, multiline=True),
                        "quantity": _DECIMAL, "unit_price": _DECIMAL,
                        "tax_rate": _DECIMAL, "discount_pct": _DECIMAL}}},
            },
        },
        "Accepted": {"type": "object", "required": ["id", "number", "status", "total", "links"],
                     "properties": {
                         "id": {"type": "integer"}, "number": {"type": "string"},
                         "status": _STATUS, "total": {"type": "string"},
                         "links": {"type": "object"}}},
        "Quotation": {"type": "object", "required": ["id", "number", "status", "total"],
                      "properties": {
            "id": {"type": "integer"}, "number": {"type": "string"},
            "status": _STATUS, "total": {"type": "string"},
            "currency": {"type": "string"}, "last_error": {"type": ["string", "null"]},
            "locale": {"type": "string", "enum": list(SUPPORTED_LOCALES)},
            "customer": {"type": "object", "properties": {
                "name": {"type": "string"}, "email": {"type": "string"},
                "company": {"type": "string"}, "address": {"type": "string"}}},
            "pdf_generated_at": _NULLABLE_TIME, "sent_at": _NULLABLE_TIME,
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
            "events": {"type": "array", "items": {"type": "object", "properties": {
                "at": {"type": "string", "format": "date-time"}, "kind": {"type": "string"},
                "status": _NULLABLE_TEXT, "job_id": {"type": ["integer", "null"]},
                "detail": {"type": "object"}}}},
            "links": {"type": "object"},
            "draft": {"type": "boolean"},
            "version": {"type": "integer", "minimum": 1},
            "versions": {"type": "array", "description": "Every version of its number, oldest "
                         "first", "items": {"type": "object", "properties": {
                             "id": {"type": "integer"}, "version": {"type": "integer"},
                             "status": _STATUS, "created_at": {"type": "string"},
                             "sent_at": _NULLABLE_TIME,
                             "response": {"type": ["string", "null"]}}}},
            "response": {"type": ["object", "null"], "description": "The customer's answer, "
                         "given once through an email's link", "properties": {
                             "kind": {"type": "string", "enum": list(ANSWERS)},
                             "name": {"type": "string"}, "comment": {"type": "string"},
                             "at": {"type": "string", "format": "date-time"},
                             "delivery_id": {"type": "integer"}}},
            "expired_at": _NULLABLE_TIME,
            "customer_id": {"type": ["integer", "null"]}}},
    }},
}
