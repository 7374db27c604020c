"""The kit's own tests use pytester to check what a failing test prints."""

pytest_plugins = ["pytester"]
