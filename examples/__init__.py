"""Example apps built with inngest_dsl."""
