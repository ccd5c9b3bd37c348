"""PrivChat core: configuration, storage, domain services, bus, auth, metrics."""
