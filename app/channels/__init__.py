"""Channels (direct and group conversations), membership and per-member conversation state."""
