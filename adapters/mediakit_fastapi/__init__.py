"""mediakit for FastAPI: a router factory, its route class, error handling and auth.

Mount the router in any app, under any prefix:

```python
app = FastAPI()
app.include_router(create_router(kit, get_principal=my_principal), prefix="/media")
```

- [`create_router`][mediakit_fastapi.create_router]: every endpoint of the HTTP API.
- [`MediaKitRoute`][mediakit_fastapi.MediaKitRoute]: its route class (errors in mediakit's
  shape, URLs that follow the mount point, capped JSON bodies).
- [`bearer_token_principal`][mediakit_fastapi.bearer_token_principal]: a ready principal
  dependency for fixed tokens.
- [`range_response`][mediakit_fastapi.range_response],
  [`checked_uploads`][mediakit_fastapi.checked_uploads]: the Range proxy and the upload
  checks in an app's own endpoints, for its own keys and tables.
- [`install_error_handlers`][mediakit_fastapi.install_error_handlers] and
  [`error_response`][mediakit_fastapi.error_response]: mediakit's error shape for an app's
  own routes.
"""

from mediakit_fastapi._auth import bearer_token_principal
from mediakit_fastapi._errors import error_response, install_error_handlers
from mediakit_fastapi._parts import UploadedFile, checked_uploads, http_errors, range_response
from mediakit_fastapi._router import MAX_JSON_BODY, create_router
from mediakit_fastapi._routing import MediaKitRoute

__all__ = [
    # the router
    "MAX_JSON_BODY",
    "MediaKitRoute",
    "create_router",
    # the parts on their own
    "UploadedFile",
    "checked_uploads",
    "http_errors",
    "range_response",
    # auth and errors
    "bearer_token_principal",
    "error_response",
    "install_error_handlers",
]
