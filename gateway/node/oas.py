"""The pieces the registry node's OpenAPI document is made of, shared by the modules that
describe their own routes (`openapi`, `campaigns`, `webhooks`), so that every operation
states its errors, parameters and service-token scope the same way."""

from __future__ import annotations

from typing import Any

JSON = "application/json"


def problems(*statuses: int) -> dict[str, Any]:
    """Responses by reference to the document's shared `Problem<status>` answers."""
    return {str(s): {"$ref": f"#/components/responses/Problem{s}"} for s in statuses}


def query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    """An optional query parameter."""
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def operation(
    summary: str,
    scope: str | None,
    responses: dict[str, Any],
    parameters: list[dict[str, Any]] | None = None,
    body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One operation: a JSON body (if any) adds 413; `scope` None means no token is asked."""
    operation: dict[str, Any] = {"summary": summary, "responses": responses}
    if parameters:
        operation["parameters"] = parameters
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {JSON: {"schema": body}}}
        responses.update(problems(413))
    operation["security"] = [{"serviceToken": [scope]}] if scope else []
    return operation
