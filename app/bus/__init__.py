"""The event bus: hints between processes (the database stays the truth)."""

from app.bus.bus import EventBus, Subscription

__all__ = ["EventBus", "Subscription"]
