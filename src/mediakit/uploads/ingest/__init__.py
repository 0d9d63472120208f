"""The upload use case: check every file, store the originals, insert the rows, hand off.

``ingest_images`` / ``ingest_tracks`` (sync) and ``aingest_images`` / ``aingest_tracks``
(async) take the form items of a :class:`~mediakit.uploads.multipart.MultipartReader`
(or any iterable of objects with the same ``filename``/``read_head``/``chunks``), and:

1. for each file part in the repeatable field ``files``, sniff the first bytes against
   the allowlist *before* writing anything, then stream it to the store under a key made
   from a fresh :func:`~mediakit.models.new_id` (the client's file name is metadata only,
   kept for ``Content-Disposition``), with the sniffed type as its content type;
   an image is also copied to a spooled temporary file as it streams, and checked
   (:func:`~mediakit.processing.images.check_image`: format, declared size against
   ``MEDIA_IMAGE_MAX_PIXELS``, truncation) once it is complete;
2. insert all rows in one transaction (``add_many``), status ``pending``;
3. call ``on_created(ids)`` (the service passes the job runner's ``submit``).

**A batch is all-or-nothing.** If any file is refused (type, size, count) or anything
fails (the store, the database, the client going away, a cancellation), every object the
request wrote is deleted, every multipart upload it opened is aborted, no row is left,
and the error propagates. An admin re-sending "the same batch" then never creates
duplicates of the files that happened to pass, and a response is never a half success
to untangle. (The caps make a batch small enough that re-sending it is cheap.)

If ``on_created`` raises after the rows are committed, the upload still succeeded: the
error is logged and the items stay ``pending`` for a later re-submission.

The twins only sequence I/O; the decisions (what to accept, which key, which row) are
pure helpers (``_common.py`` here, :mod:`~mediakit.uploads.sniff`,
:mod:`~mediakit.uploads.limits`). The async twin is written once (``_async.py``) and the
sync one generated from it by ``scripts/unasync.py`` (``_sync.py``); on the async side the
repository calls and the image check run in a worker thread, and the clean-up is shielded
from cancellation (``_hops.py``, the one hand-kept difference).
"""

from __future__ import annotations

# The private names re-exported here (``_cleanup``, ``_store_files``, ``_SPOOL_IN_MEMORY``...)
# are the ones the tests reach for (twin parity, the spool bound) at this import path.
from mediakit.uploads.ingest._async import (
    AsyncUploadedFile,
    aingest_images,
    aingest_tracks,
)
from mediakit.uploads.ingest._async import _acleanup as _acleanup
from mediakit.uploads.ingest._async import _astore_files as _astore_files
from mediakit.uploads.ingest._common import _SPOOL_IN_MEMORY as _SPOOL_IN_MEMORY
from mediakit.uploads.ingest._common import (
    DEFAULT_IMAGE_MAX_PIXELS,
    FILES_FIELD,
    OnCreated,
    clean_filename,
    image_check,
)
from mediakit.uploads.ingest._common import FileCheck as FileCheck
from mediakit.uploads.ingest._sync import UploadedFile, ingest_images, ingest_tracks
from mediakit.uploads.ingest._sync import _cleanup as _cleanup
from mediakit.uploads.ingest._sync import _store_files as _store_files

__all__ = [
    "DEFAULT_IMAGE_MAX_PIXELS",
    "FILES_FIELD",
    "AsyncUploadedFile",
    "OnCreated",
    "UploadedFile",
    "aingest_images",
    "aingest_tracks",
    "clean_filename",
    "image_check",
    "ingest_images",
    "ingest_tracks",
]
