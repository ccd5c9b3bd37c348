"""Per-device sessions, refresh tokens, revocation and kicks."""
