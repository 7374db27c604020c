"""`python -m inngest_dsl.devserver ...` is `inngest-dsl ...`."""

from __future__ import annotations

from inngest_dsl.devserver.cli import main

raise SystemExit(main())
