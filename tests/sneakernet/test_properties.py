"""Hypothesis: any damage to a real bundle (one written by ``mesyx sync export``) is
refused by the reader before it hands out the end of the stream, so an import applies
nothing of it (the CLI test shows the tables unchanged for a few such files)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mesyx.errors import Corrupt, CryptoError
from mesyx.proto.sync.bundle import BundleParser
from mesyx.proto.sync.frames import OpFrame
from tests.helpers.daemon import NodeFactory

pytestmark = pytest.mark.slow

_settings = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def real_bundle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[bytes]:
    root: Path = tmp_path_factory.mktemp("bundle")
    factory = NodeFactory(root)
    try:
        node = factory.create("c", modes=["client", "exchange"], account="alice@mesyx.test")
        node.cli("account", "alias", "add", "alice@mesyx.test", "al@mesyx.test", check=True)
        node.cli("sync", "export", "--all", "--out", root / "all.mesyx-bundle", check=True)
        yield (root / "all.mesyx-bundle").read_bytes()
    finally:
        factory.close()


def _read(data: bytes, chunk: int) -> None:
    parser = BundleParser()
    for at in range(0, len(data), chunk):
        parser.feed(data[at : at + chunk])
    parser.close()


def test_the_real_bundle_reads(real_bundle: bytes) -> None:
    parser = BundleParser()
    frames = parser.feed(real_bundle)
    parser.close()
    assert any(isinstance(f, OpFrame) for f in frames)


@_settings
@given(data=st.data())
def test_random_flips_are_refused(real_bundle: bytes, data: st.DataObject) -> None:
    damaged = bytearray(real_bundle)
    places = st.lists(st.integers(0, len(real_bundle) - 1), min_size=1, max_size=3, unique=True)
    for at in data.draw(places, label="at"):  # distinct places: two flips of one byte could cancel out
        damaged[at] ^= data.draw(st.integers(1, 255), label="mask")
    with pytest.raises((Corrupt, CryptoError)):
        _read(bytes(damaged), data.draw(st.sampled_from([1 << 20, 4096, 97]), label="chunk"))


@_settings
@given(data=st.data())
def test_random_truncations_and_extensions_are_refused(real_bundle: bytes, data: st.DataObject) -> None:
    length = data.draw(st.integers(0, len(real_bundle) - 1), label="length")
    tail = data.draw(st.binary(max_size=200), label="tail")
    with pytest.raises((Corrupt, CryptoError)):
        _read(real_bundle[:length] + tail, 4096)
    if tail:
        with pytest.raises((Corrupt, CryptoError)):
            _read(real_bundle + tail, 4096)
