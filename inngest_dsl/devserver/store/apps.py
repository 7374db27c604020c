"""The `apps` and `functions` tables: what each synced app registered."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from inngest_dsl.devserver.store.database import Database
from inngest_dsl.devserver.store.records import AppRecord, FunctionRecord

__all__ = ["AppTables"]


class AppTables(Database):
    """Synced apps and their functions."""

    def get_app(self, url: str) -> AppRecord | None:
        row = self._one(
            "SELECT url, name, sdk, framework, checksum, synced_at, error FROM apps WHERE url = ?",
            (url,),
        )
        return None if row is None else AppRecord(*row)

    def list_apps(self) -> list[AppRecord]:
        rows = self._all(
            "SELECT url, name, sdk, framework, checksum, synced_at, error FROM apps ORDER BY url"
        )
        return [AppRecord(*row) for row in rows]

    def save_app(
        self,
        app: AppRecord,
        functions: Iterable[tuple[str, str, str, str]],
    ) -> None:
        """Store an app and replace its functions with `(id, name, url, config_json)` rows."""
        self._db.execute(
            "INSERT OR REPLACE INTO apps (url, name, sdk, framework, checksum, synced_at, error) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            _app_row(app),
        )
        self._db.execute("DELETE FROM functions WHERE app_url = ?", (app.url,))
        self._db.executemany(
            "INSERT OR REPLACE INTO functions (id, app_url, name, url, config, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [
                (fid, app.url, name, url, cfg, app.synced_at or 0.0)
                for fid, name, url, cfg in functions
            ],
        )

    def set_app_error(self, url: str, error: str | None) -> None:
        """Record why an app could not be synced (None: it could); unknown URLs are added."""
        self._db.execute(
            "INSERT INTO apps (url, name, sdk, framework, checksum, synced_at, error) "
            "VALUES (?, '', '', '', '', NULL, ?) "
            "ON CONFLICT (url) DO UPDATE SET error = excluded.error",
            (url, error),
        )

    def delete_app(self, url: str) -> bool:
        """Forget an app and its functions; False if there was no such app."""
        self._db.execute("DELETE FROM functions WHERE app_url = ?", (url,))
        return self._db.execute("DELETE FROM apps WHERE url = ?", (url,)).rowcount > 0

    def list_functions(self) -> list[FunctionRecord]:
        rows = self._all(
            "SELECT id, app_url, name, url, config, updated_at FROM functions ORDER BY id"
        )
        return [FunctionRecord(*row) for row in rows]


def _app_row(record: AppRecord) -> tuple[Any, ...]:
    return (
        record.url,
        record.name,
        record.sdk,
        record.framework,
        record.checksum,
        record.synced_at,
        record.error,
    )
