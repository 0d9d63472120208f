"""Which signing call each service twin makes (``service/_hops.py``'s ``async_signer``).

The async service awaits ``asign`` when the signer has it (singleflight across tasks)
and calls ``sign`` otherwise; the sync service, generated from it, always calls ``sign``.
"""

from __future__ import annotations

from collections.abc import Iterator

import anyio
import attrs
import pytest

from mediakit.service import MediaKit
from mediakit.service._ports import SignedUrlLike, UrlSigner
from tests.service.kit import ADMIN, make_kit, seed_image


class Recording:
    """A signer that only signs synchronously, recording each call."""

    def __init__(self, inner: UrlSigner) -> None:
        self.inner = inner
        self.calls: list[tuple[str, str]] = []

    def sign(
        self, key: str, *, content_type: str | None = None, disposition: str | None = None
    ) -> SignedUrlLike:
        self.calls.append(("sign", key))
        return self.inner.sign(key, content_type=content_type, disposition=disposition)


class RecordingAsync(Recording):
    """The same, with an awaitable ``asign`` too."""

    async def asign(
        self, key: str, *, content_type: str | None = None, disposition: str | None = None
    ) -> SignedUrlLike:
        self.calls.append(("asign", key))
        return self.inner.sign(key, content_type=content_type, disposition=disposition)


@pytest.fixture
def kit() -> Iterator[MediaKit]:
    k = make_kit()
    assert k.settings.delivery == "presigned"
    yield k
    k.close()


@pytest.mark.parametrize(("signer_cls", "call"), [(RecordingAsync, "asign"), (Recording, "sign")])
def test_async_service_awaits_asign_only_when_the_signer_has_it(
    kit: MediaKit, signer_cls: type[Recording], call: str
) -> None:
    image = seed_image(kit, thumbs=(320, 640))
    signer = signer_cls(kit.signer)
    service = attrs.evolve(kit.aservice, signer=signer)
    view = anyio.run(service.get_image, ADMIN, image.id)
    assert {kind for kind, _ in signer.calls} == {call}
    assert sorted(key for _, key in signer.calls) == sorted(image.object_keys())
    assert view["id"] == image.id


def test_sync_service_calls_sign_even_when_asign_exists(kit: MediaKit) -> None:
    image = seed_image(kit)
    signer = RecordingAsync(kit.signer)
    attrs.evolve(kit.service, signer=signer).get_image(ADMIN, image.id)
    assert signer.calls
    assert {kind for kind, _ in signer.calls} == {"sign"}
