"""``upstream_transport`` and ``upstream_tls``: what the config accepts, and the client built from it."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import httpx
import pytest
import trustme

from agui_proxy.config import config_from_dict
from agui_proxy.errors import ConfigError
from agui_proxy.upstream.client import new_client, tls_verify
from agui_proxy.upstream.transport import LeanTransport

BASE = {"upstreams": {"up": {"provider": "openai-chat", "base_url": "https://api.openai.com/v1", "api_key": "k",
                             "model": "gpt-4o"}},
        "routes": [{"path": "/api/agent", "upstream": "up"}]}


def test_the_lean_transport_is_the_default_and_httpx_selectable(tmp_path: Path) -> None:
    async def main() -> None:
        default = new_client(config_from_dict(BASE, base_dir=tmp_path))
        stock = new_client(config_from_dict({**BASE, "upstream_transport": "httpx"}, base_dir=tmp_path))
        try:
            assert isinstance(default._transport, LeanTransport)
            assert isinstance(stock._transport, httpx.AsyncHTTPTransport)
            assert not default.trust_env and not default.follow_redirects
        finally:
            await default.aclose()
            await stock.aclose()

    asyncio.run(main())


def test_an_unknown_transport_is_an_error_naming_the_field(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"upstream_transport.*'lean' or 'httpx'"):
        config_from_dict({**BASE, "upstream_transport": "h2"}, source="agui.yaml", base_dir=tmp_path)


def test_ca_file_is_read_beside_the_config_and_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"upstream_tls.ca_file.*not a file"):
        config_from_dict({**BASE, "upstream_tls": {"ca_file": "absent.pem"}}, source="agui.yaml", base_dir=tmp_path)
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    config = config_from_dict({**BASE, "upstream_tls": {"ca_file": "ca.pem"}}, base_dir=tmp_path)
    assert config.tls_ca_file() == tmp_path / "ca.pem"
    verify = tls_verify(config.upstream_tls, config.tls_ca_file())
    assert isinstance(verify, ssl.SSLContext) and verify.verify_mode == ssl.CERT_REQUIRED
    assert len(verify.get_ca_certs()) == 1  # that CA only, not certifi's as well


def test_verify_false_and_the_default(tmp_path: Path) -> None:
    off = config_from_dict({**BASE, "upstream_tls": {"verify": False}}, base_dir=tmp_path)
    assert tls_verify(off.upstream_tls, off.tls_ca_file()) is False
    on = config_from_dict(BASE, base_dir=tmp_path)
    assert tls_verify(on.upstream_tls, on.tls_ca_file()) is True
