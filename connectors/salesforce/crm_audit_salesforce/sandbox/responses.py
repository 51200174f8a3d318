"""Salesforce's response shapes shared by the sandbox's routes: JSON bodies, and the
error body Salesforce sends (a JSON *list* of ``{"message", "errorCode"}``)."""

from __future__ import annotations

import json
from typing import Any

from werkzeug.wrappers import Response

JSON = "application/json;charset=UTF-8"


def error(status: int, code: str, message: str, headers: dict | None = None) -> Response:
    body = json.dumps([{"message": message, "errorCode": code}])
    return Response(body, status=status, content_type=JSON, headers=headers or {})


def json_response(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, content_type=JSON)


def not_found() -> Response:
    return error(404, "NOT_FOUND", "The requested resource does not exist")
