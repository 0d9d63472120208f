"""The catalogue's own views: products with a file on the default storage (mediakit's
``MediaKitStorage``), served through mediakit's Range proxy by ``range_response``."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase, JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path
from django.views.decorators.csrf import csrf_exempt

from mediakit_django import arange_response, range_response
from mediakit_django.kit import get_kit
from tests.django.shop.accounts import api_key_principal
from tests.django.shop.catalog.models import Product


def ping(request: HttpRequest) -> JsonResponse:
    """The shop's own route (untouched by mediakit)."""
    return JsonResponse({"catalog": "ok"})


def _denied() -> JsonResponse:
    return JsonResponse({"detail": "API key required"}, status=401)


def _product_json(product: Product) -> dict[str, Any]:
    return {
        "id": product.pk,
        "name": product.name,
        "file": product.file.name,
        "url": product.file.url,
    }


@csrf_exempt  # API-key authenticated
def products(request: HttpRequest) -> JsonResponse:
    """POST a product (multipart: name, file); answers its JSON with the file's URL."""
    who = api_key_principal(request)
    if who is None or not who.is_admin:
        return _denied()
    product = Product.objects.create(name=request.POST["name"], file=request.FILES["file"])
    return JsonResponse(_product_json(product), status=201)


def product(request: HttpRequest, pk: int) -> JsonResponse:
    """A product's JSON: ``url`` is ``FieldFile.url`` (a presigned S3 URL)."""
    if api_key_principal(request) is None:
        return _denied()
    return JsonResponse(_product_json(get_object_or_404(Product, pk=pk)))


def product_file(request: HttpRequest, pk: int) -> HttpResponseBase:
    """The product's file through the Range proxy (the shop checks access first)."""
    if api_key_principal(request) is None:
        return _denied()
    item = get_object_or_404(Product, pk=pk)
    return range_response(request, item.file.storage, item.file.name, disposition="attachment")


async def aproduct_file(request: HttpRequest, pk: int) -> HttpResponseBase:
    """The async twin (the shop under ASGI)."""
    if api_key_principal(request) is None:
        return _denied()
    item = await Product.objects.aget(pk=pk)
    return await arange_response(
        request, item.file.storage, item.file.name, disposition="attachment"
    )


def raw_key(request: HttpRequest, key: str) -> HttpResponseBase:
    """Any key of the kit's bucket, from its sync store (admins only)."""
    who = api_key_principal(request)
    if who is None or not who.is_admin:
        return _denied()
    return range_response(request, get_kit().store, key)


async def araw_key(request: HttpRequest, key: str) -> HttpResponseBase:
    """Any key of the kit's bucket, from its async (aioboto3) store (admins only)."""
    who = api_key_principal(request)
    if who is None or not who.is_admin:
        return _denied()
    return await arange_response(request, get_kit().astore, key)


_ASYNC = bool(getattr(settings, "ASYNC", False))

urlpatterns: list[URLPattern] = [
    path("ping", ping),
    path("products", products),
    path("products/<int:pk>", product),
    path("products/<int:pk>/file", aproduct_file if _ASYNC else product_file),
    path("raw/<path:key>", araw_key if _ASYNC else raw_key),
]
