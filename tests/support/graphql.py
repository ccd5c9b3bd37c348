"""A small GraphQL-over-HTTP client for tests (in-process ASGI or a real socket)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx


@dataclass
class GraphQLResult:
    status: int
    body: dict[str, Any]

    @property
    def data(self) -> dict[str, Any]:
        assert not self.body.get("errors"), self.body.get("errors")
        return self.body["data"]

    @property
    def errors(self) -> list[dict[str, Any]]:
        return self.body.get("errors") or []

    @property
    def error_code(self) -> str | None:
        errors = self.errors
        return errors[0].get("extensions", {}).get("code") if errors else None


class GraphQLClient:
    def __init__(self, http: httpx.AsyncClient, path: str = "/graphql", token: str | None = None) -> None:
        self.http = http
        self.path = path
        self.token = token

    def with_token(self, token: str | None) -> GraphQLClient:
        return GraphQLClient(self.http, self.path, token)

    async def execute(
        self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None
    ) -> GraphQLResult:
        headers = {"accept": "application/json"}
        bearer = token or self.token
        if bearer:
            headers["authorization"] = f"Bearer {bearer}"
        payload: dict[str, Any] = {"query": query}
        if variables is not None:
            payload["variables"] = variables
        response = await self.http.post(self.path, json=payload, headers=headers)
        return GraphQLResult(response.status_code, response.json())

    async def data(self, query: str, variables: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
        return (await self.execute(query, variables, **kw)).data
