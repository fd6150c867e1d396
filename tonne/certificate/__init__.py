"""Retirement certificates for people, from chain data alone: ``data`` reads a certificate (by id or by transaction),
``render`` turns it into an SVG page and a self-contained HTML document, ``write_documents`` writes them (and the
data as JSON) to a folder. See docs/retirement.md, "Certificate documents"."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tonne.certificate.data import (
    Addresses,
    CertificateData,
    CertificateError,
    CreditLine,
    ProjectFacts,
    find_by_id,
    find_by_tx,
    load,
    read_certificate,
)
from tonne.certificate.render import clean, esc, render_html, render_svg

DEFAULT_OUT = Path("out/certificates")


def write_documents(data: CertificateData, out: Path | str = DEFAULT_OUT) -> dict[str, Path]:
    """Write ``certificate-<chain>-<id>.svg``, ``.html`` and ``.json`` under ``out``; returns their paths by kind."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / f"certificate-{data.chain_id}-{data.certificate_id}"
    svg = render_svg(data)
    paths = {"svg": stem.with_suffix(".svg"), "html": stem.with_suffix(".html"), "json": stem.with_suffix(".json")}
    paths["svg"].write_text(svg, encoding="utf-8")
    paths["html"].write_text(render_html(data, svg), encoding="utf-8")
    paths["json"].write_text(json.dumps(data.as_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return paths


def load_deployed(
    deployed: Any, *, certificate_id: int | None = None, tx_hash: str | None = None
) -> list[CertificateData]:
    """Certificates of a recorded deployment (``tonne.core.deployments.connect``), by id or by transaction."""
    from tonne.chain.send import ape_abi
    from tonne.chain.view import ChainView, error_names

    view = ChainView(deployed.retirement.provider.web3, errors=error_names(ape_abi(deployed.retirement)))
    addresses = Addresses(
        retirement=str(deployed.retirement.address),
        registry=str(deployed.registry.address),
        credit=str(deployed.credit.address),
    )
    return load(view, addresses, certificate_id=certificate_id, tx_hash=tx_hash, start_block=deployed.start_block)


__all__ = [
    "DEFAULT_OUT",
    "Addresses",
    "CertificateData",
    "CertificateError",
    "CreditLine",
    "ProjectFacts",
    "clean",
    "esc",
    "find_by_id",
    "find_by_tx",
    "load",
    "load_deployed",
    "read_certificate",
    "render_html",
    "render_svg",
    "write_documents",
]
