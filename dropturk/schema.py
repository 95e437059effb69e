"""The OpenAPI schema's error answers, declared once for every operation.

drf-spectacular lists what each view declares (``extend_schema(responses=...)``); the
answers every call of this API may give besides are added here (a postprocessing hook,
``SPECTACULAR_SETTINGS``), so that the schema lists each 4xx a call gives:

- 400: a body or query parameter that does not validate (operations that take either);
- 401: no session and no service token (or an invalid one);
- 403: signed in without the role, the scope or a second factor;
- 404: no such object, or not one the caller may reach (invariant 9: outsiders get 404);
- 405: a method the path does not take is not listed: schemathesis does not call those.

All carry ``{"detail": "..."}`` (DRF's error shape, and dropturk.errors' under /api/).
"""

ERROR_SCHEMA_NAME = "Error"
ERROR_SCHEMA = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}

_DESCRIPTIONS = {
    "400": "The request does not validate (a field's error, or detail).",
    "401": "No session and no service token, or an invalid one.",
    "403": "Signed in, but without the role, scope or second factor this needs.",
    "404": "No such object, or not one you may reach.",
}


def _error_response(code: str) -> dict:
    return {
        "description": _DESCRIPTIONS[code],
        "content": {
            "application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR_SCHEMA_NAME}"}}
        },
    }


def _takes_input(operation: dict) -> bool:
    return "requestBody" in operation or any(
        parameter.get("in") == "query" for parameter in operation.get("parameters", [])
    )


def add_error_responses(result, generator, request, public):
    """Adds 400 (where there is input to refuse), 401, 403 and 404 to every operation that
    does not declare them itself."""
    result.setdefault("components", {}).setdefault("schemas", {})[ERROR_SCHEMA_NAME] = ERROR_SCHEMA
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            codes = ["401", "403", "404"]
            if _takes_input(operation):
                codes.insert(0, "400")
            for code in codes:
                operation["responses"].setdefault(code, _error_response(code))
    return result
