"""Redis adapters: the event bus (pub/sub for live delivery, streams for history)."""
