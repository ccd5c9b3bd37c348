"""Per-user update sequences (non-channel events) and the sync read paths."""
