"""mediakit for FastAPI: a router factory, error handlers and a bearer-token helper.

>>> from fastapi import FastAPI  # doctest: +SKIP
>>> kit = build_service(Settings.from_env())  # doctest: +SKIP
>>> app = FastAPI()  # doctest: +SKIP
>>> install_error_handlers(app)  # doctest: +SKIP
>>> app.include_router(create_router(kit, get_principal=my_principal))  # doctest: +SKIP
"""

from mediakit_fastapi._auth import bearer_token_principal
from mediakit_fastapi._errors import error_response, install_error_handlers
from mediakit_fastapi._router import create_router

__all__ = ["bearer_token_principal", "create_router", "error_response", "install_error_handlers"]
