"""Tooling of the compliance module (contracts/compliance/CompliancePeriods.sol), one module a job:

- ``terms``: a period's terms from command-line text, checked as ``openPeriod`` checks them;
- ``obligations``: obligations from CSV (``entity,name,tonnes``), checked statically and against the chain,
  sent idempotently in ``setObligations`` chunks;
- ``surrender``: one surrender, every refusal the chain would make found before sending;
- ``report``: per period and entity, the obligation, the amount surrendered and the status, from events and the
  ``status`` view, as a table and as CSV.

Errors name what is wrong: ``file:line: field: message`` for files (``FileError``), the option at fault for
command-line values (``InputError``), and every reason for a surrender the chain would refuse
(``ComplianceRefusal``). Nothing is sent when any is raised.
"""

from tonne.compliance.errors import ComplianceRefusal, FileError, InputError, Problem, SendError
from tonne.compliance.obligations import (
    HEADER,
    MAX_OBLIGATIONS_PER_CALL,
    ObligationPlan,
    ObligationRow,
    ObligationSummary,
    parse_text,
    plan_obligations,
    read_obligations,
    send_obligations,
    set_obligations,
)
from tonne.compliance.report import (
    CSV_COLUMNS,
    EntityLine,
    PeriodReport,
    PeriodTerms,
    ReportError,
    build_report,
    format_report,
    read_report,
    to_csv,
    tonnes_text,
    write_csv,
)
from tonne.compliance.surrender import (
    SurrenderPlan,
    auto_reference,
    pair_credits,
    plan_surrender,
    reference_key,
    resolve_credits,
    send_surrender,
)
from tonne.compliance.terms import Terms, describe_vintages, iso, parse_deadline, parse_vintages, period_input

__all__ = [
    "CSV_COLUMNS",
    "HEADER",
    "MAX_OBLIGATIONS_PER_CALL",
    "ComplianceRefusal",
    "EntityLine",
    "FileError",
    "InputError",
    "ObligationPlan",
    "ObligationRow",
    "ObligationSummary",
    "PeriodReport",
    "PeriodTerms",
    "Problem",
    "ReportError",
    "SurrenderPlan",
    "Terms",
    "auto_reference",
    "build_report",
    "describe_vintages",
    "format_report",
    "iso",
    "parse_deadline",
    "parse_text",
    "parse_vintages",
    "period_input",
    "plan_obligations",
    "plan_surrender",
    "read_obligations",
    "pair_credits",
    "read_report",
    "reference_key",
    "resolve_credits",
    "send_obligations",
    "set_obligations",
    "SendError",
    "send_surrender",
    "to_csv",
    "tonnes_text",
    "write_csv",
]
