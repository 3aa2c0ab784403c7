"""Where PDFs are kept: a local folder, or a Google Cloud Storage bucket."""

from __future__ import annotations

from quote_service.config import Settings
from quote_service.deliver.storage.base import Storage


def make_storage(settings: Settings) -> Storage:
    if settings.storage_backend == "gcs":
        from quote_service.deliver.storage.gcs import GCSStorage

        return GCSStorage.from_settings(settings)
    from quote_service.deliver.storage.local import LocalStorage

    return LocalStorage(settings.storage_dir)
