"""The dev server's web UI: server-rendered pages over the store's read API."""
