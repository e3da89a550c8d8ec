"""Dataset import and preparation: a pure library (no web, DB or Celery imports, no env vars).

Names are exported lazily so that process-pool workers, which import datasets.pipeline,
do not pay for importing torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "errors": ("DatasetError", "UnsupportedSource", "DatasetTooLarge", "NoImagesFound", "FolderNotAllowed",
               "UrlRefused", "ImageRejected"),
    "limits": ("DatasetLimits", "format_bytes"),
    "kinds": ("SourceKind", "detect_kind", "sniff_image_format"),
    "layout": ("DatasetPaths", "list_raw_images"),
    "report": ("IngestReport", "SkippedItem"),
    "ingest": ("ingest_upload", "ingest_folder"),
    "streams": ("stream_to_disk",),
    "csv_rows": ("CsvRow", "read_csv_rows"),
    "csv_import": ("import_csv", "import_rows", "read_import_state"),
    "netguard": ("is_public_address", "check_url", "system_resolver"),
    "decode": ("decode_image", "DecodedImage", "flatten", "pillow_pixel_limit"),
    "options": ("PrepareOptions",),
    "prepare": ("prepare_dataset", "PreparedDataset", "PrepareStats"),
    "cache": ("cache_path", "load_or_prepare", "load_cached", "clear_cache"),
    "preview": ("preview_grid", "thumbnails", "thumbnail_name"),
}  # fmt: skip
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_MODULE_OF)


def __getattr__(name: str) -> Any:
    if name not in _MODULE_OF:
        raise AttributeError(f"module 'datasets' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"datasets.{_MODULE_OF[name]}"), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:  # the same names, for type checkers and editors
    from datasets.cache import cache_path, clear_cache, load_cached, load_or_prepare  # noqa: F401
    from datasets.csv_import import import_csv, import_rows, read_import_state  # noqa: F401
    from datasets.csv_rows import CsvRow, read_csv_rows  # noqa: F401
    from datasets.decode import DecodedImage, decode_image, flatten, pillow_pixel_limit  # noqa: F401
    from datasets.errors import (  # noqa: F401
        DatasetError,
        DatasetTooLarge,
        FolderNotAllowed,
        ImageRejected,
        NoImagesFound,
        UnsupportedSource,
        UrlRefused,
    )
    from datasets.ingest import ingest_folder, ingest_upload  # noqa: F401
    from datasets.kinds import SourceKind, detect_kind, sniff_image_format  # noqa: F401
    from datasets.layout import DatasetPaths, list_raw_images  # noqa: F401
    from datasets.limits import DatasetLimits, format_bytes  # noqa: F401
    from datasets.netguard import check_url, is_public_address, system_resolver  # noqa: F401
    from datasets.options import PrepareOptions  # noqa: F401
    from datasets.prepare import PreparedDataset, PrepareStats, prepare_dataset  # noqa: F401
    from datasets.preview import preview_grid, thumbnail_name, thumbnails  # noqa: F401
    from datasets.report import IngestReport, SkippedItem  # noqa: F401
    from datasets.streams import stream_to_disk  # noqa: F401
