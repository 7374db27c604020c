"""The dev server over HTTP: the event API, sync, the SDK and JSON APIs, and calls to apps."""
