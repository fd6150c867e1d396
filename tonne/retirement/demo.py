"""The retirement demo step: three retirements through the retire tool (one batch, two batches in one
certificate, an issue-and-retire), each certificate's data read back from the chain, one rendered."""

from __future__ import annotations

from tonne.certificate import load_deployed, write_documents
from tonne.core.demo import DemoContext, short
from tonne.core.deployments import Deployed
from tonne.retirement import command_request, retire_request

# (who retires, credits as (token index, tonnes), beneficiary name, reason, jurisdiction, period; issue-and-retire)
RETIREMENTS = [
    ("buyer 0", [(0, "100")], "Acme Logistics GmbH", "Scope 1 emissions FY2025 (fleet)", "DE", "2025", False),
    ("buyer 2", [(0, "40"), (3, "500")], "Outsider Shipping Ltd", "Scope 3 freight, H1", "GB-ENG", "2025-H1", False),
    ("issuer", [(2, "250")], "Kumasi Metropolitan Assembly", "Municipal operations 2025", "GH-AH", "2025", True),
]


def retire(ctx: DemoContext) -> None:
    """The three retirements; their certificates, read back from the chain, go to ``ctx.certificates``."""
    actors, token_ids, echo = ctx.actors, ctx.token_ids, ctx.echo
    suite = ctx.deployed.suite
    deployed = Deployed(
        record=ctx.deployed.record, registry=suite.registry, credit=suite.credit, retirement=suite.retirement
    )
    certificates = ctx.certificates
    for who, credits, name, reason, jurisdiction, period, issue in RETIREMENTS:
        account = actors.issuer if who == "issuer" else actors.buyers[int(who.split()[1])]
        beneficiary = actors.outsider.address if name.startswith("Outsider") else None
        request = command_request(
            project=None,
            batches=[],
            ids=[token_ids[i] for i, _ in credits],
            amounts=[tonnes for _, tonnes in credits],
            beneficiary=str(beneficiary) if beneficiary else None,
            name=name,
            reason=reason,
            jurisdiction=jurisdiction,
            period="2025-01-01:2025-06-30" if period == "2025-H1" else period,
            reference=f"DEMO-RETIRE-{len(certificates) + 1:04d}",
            issue=issue,
            sender=str(account.address),
        )
        summary = retire_request(request, deployed, account)
        step = "issue and retire" if issue else f"retire ({len(credits)} id{'s' * (len(credits) > 1)})"
        ctx.gas.steps.setdefault(step, []).append(summary.gas_used)
        (made,) = summary.certified
        (data,) = load_deployed(deployed, certificate_id=made.certificate_id)
        certificates.append(data)
        echo(f"      {short(account)} {step}: certificate #{made.certificate_id}, {summary.gas_used:,} gas")
        for line in data.describe().splitlines():
            echo(f"        {line}")
    paths = write_documents(certificates[1], ctx.out)
    echo(f"      certificate #{certificates[1].certificate_id} rendered: {paths['svg']} and {paths['html']}")
