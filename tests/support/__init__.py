"""Shared test support: backends, factories, GraphQL helpers, real server processes."""
