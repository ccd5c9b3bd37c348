"""Messages and the per-channel event log (pts)."""
