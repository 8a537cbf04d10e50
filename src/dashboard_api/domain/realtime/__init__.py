"""Real time: the WebSocket protocol, event ids and the hub that fans bus events out to sockets."""
