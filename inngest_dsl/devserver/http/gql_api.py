"""`POST /v0/gql`: the GraphQL endpoint tooling written for `inngest-cli dev` reads runs through.

Served over HTTP as graphql-over-http says for `application/json` (also `GET` with the query
in the URL): a body that is not a JSON
object with a string `query` is a 400 with `errors`; a query that does not parse or validate,
or whose fields fail, is a 200 with `errors` (and `data` once it ran). Never a traceback. With a
signing key set, the endpoint needs its bearer, as the other `/v0` routes do (`http.access`).
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from graphql import ExecutionResult, GraphQLError, execute_sync, parse, validate

from inngest_dsl.devserver.http.gql_resolvers import Queries
from inngest_dsl.devserver.http.gql_schema import schema
from inngest_dsl.devserver.http.keys import ENGINE, STORE
from inngest_dsl.devserver.http.responses import json_response
from inngest_dsl.wire._json import loads

__all__ = ["graphql", "graphql_get"]

log = logging.getLogger("inngest_dsl.devserver")


def _errors(status: int, message: str) -> web.Response:
    return json_response({"errors": [{"message": message}]}, status)


def _request(body: Any) -> tuple[str, dict[str, Any] | None, str | None] | str:
    """`(query, variables, operationName)` of a request body, or what is wrong with it."""
    if not isinstance(body, dict):
        return "the body must be a JSON object"
    query, variables = body.get("query"), body.get("variables")
    operation = body.get("operationName")
    if not isinstance(query, str):
        return "query: must be a string"
    if variables is not None and not isinstance(variables, dict):
        return "variables: must be an object"
    if operation is not None and not isinstance(operation, str):
        return "operationName: must be a string"
    return query, variables, operation


def _formatted(error: GraphQLError) -> dict[str, Any]:
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):
        return dict(error.formatted)
    # A fault of ours: say what kind, log the rest, show no internals.
    log.error("GraphQL resolver error on %s", error.path, exc_info=original)
    formatted = dict(error.formatted)
    formatted["message"] = f"internal error: {type(original).__name__}"
    return formatted


async def graphql(request: web.Request) -> web.Response:
    """`POST /v0/gql` with `{"query", "variables", "operationName"}`."""
    try:
        body = loads(await request.read())
    except ValueError:
        return _errors(400, "the body is not valid JSON")
    return _answer(request, body)


async def graphql_get(request: web.Request) -> web.Response:
    """`GET /v0/gql?query=...&variables=<JSON>&operationName=...` (there are no mutations)."""
    variables: Any = request.query.get("variables")
    if variables:
        try:
            variables = loads(variables.encode())
        except ValueError:
            return _errors(400, "variables: not valid JSON")
    body = {
        "query": request.query.get("query"),
        "variables": variables or None,
        "operationName": request.query.get("operationName"),
    }
    return _answer(request, body)


def _answer(request: web.Request, body: Any) -> web.Response:
    parsed = _request(body)
    if isinstance(parsed, str):
        return _errors(400, parsed)
    query, variables, operation = parsed
    try:
        document = parse(query)
    except GraphQLError as exc:
        return json_response({"errors": [exc.formatted]})
    problems = validate(schema(), document)
    if problems:
        return json_response({"errors": [problem.formatted for problem in problems]})
    root = Queries(request.app[STORE], request.app[ENGINE].registry.functions)
    result = execute_sync(
        schema(), document, root, variable_values=variables, operation_name=operation
    )
    return json_response(_payload(result))


def _payload(result: ExecutionResult) -> dict[str, Any]:
    errors = result.errors or []
    if result.data is None and errors and all(error.path is None for error in errors):
        # Bad variables: the query never ran, so there is no `data` at all.
        return {"errors": [_formatted(error) for error in errors]}
    payload: dict[str, Any] = {"data": result.data}
    if errors:
        payload["errors"] = [_formatted(error) for error in errors]
    return payload
