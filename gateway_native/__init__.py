"""Native binary gateway: frame codec, TCP/QUIC/WebSocket listeners, sessions, client SDK."""
