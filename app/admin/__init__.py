"""Privileged operations (an admin user's session or the service key)."""
