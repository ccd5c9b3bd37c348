"""Presence (online / offline / last seen, across processes) and typing indicators."""
