"""Transports of the native gateway. Each only moves bytes between a socket and a
`Connection` (gateway_native/connection.py); the protocol is the same on all three."""
