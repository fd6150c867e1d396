"""The monitor's rules: each reads the ledger (``tonne.supervise.ledger``, the one fold of the index) and returns
its findings as alerts with their evidence. ``evaluate(ledger, config, now)`` runs them all.

Every alert names its rule, a severity, and a ``key`` that stays the same for the same finding in a later run (so
``supervise watch`` prints it once; a key changes only when the finding changes in kind, e.g. a short obligation
turning critical after its deadline). The evidence holds transaction hashes (``txs``), accounts, ids and amounts in
the token's units; the message reads in tonnes (``tonne.core.units``) and names ids as ``P<project>/B<batch>``.

What each rule can see, and what it cannot (events are all it has):

accounting (the full reconciliation against the chain's state is ``tonne.supervise.reconcile``)
- ``cap-exceeded``: an id issued above the cap its ``BatchOpened`` set, or issued with no batch opened. The token
  refuses both (``CreditIssuanceExceedsCap``, ``CreditBatchNotOpen``); the rule proves it held.
- ``serial-overlap``: two batches of one project whose serial ranges overlap. The registry refuses it
  (``RegistrySerialOverlap``).
- ``issuance-reference-reused``: a batch issuance reference used by two batches on one chain (the registry keeps
  them unique chain-wide, ``RegistryIssuanceReferenceUsed``), or a non-zero ``Issued`` order reference used twice
  within one project (the token's scope, ``CreditOrderReferenceUsed``).

double offsetting
- ``retired-and-surrendered``: a certificate cited by more than one ``Surrendered`` (twice, or in two periods), a
  surrender larger than its certificate's units, a voluntary certificate surrendered for compliance, or a
  surrender citing a certificate no retirement of the index recorded. The compliance contract's only surrender path
  retires fresh credits into a new certificate, so none of these can happen unless a contract is wrong.
- ``bridged-and-retired``: what events show of a bridged id is, at home, the units locked in the home bridge and
  released from it, and every home retirement; remotely (when the index follows the remote chain), the mirror's
  mints, burns and ``RemoteRetired``. Locked credits sit in the home bridge's balance, so at home only the rest can
  be retired. The rule flags (a) home retirements above issued - cancelled - (locked - released), the credits that
  remained after the lock; (b) remote retirements above locked - released, credits retired remotely while released
  at home; (c) home and remote retirements together above issued - cancelled. It cannot see a retirement claimed
  outside Tonne (another registry), nor a remote chain the index does not follow (then only (a) runs).
- ``retirement-reference-reused``: one retiring account's non-zero retirement reference on two certificates (the
  retirement contract's scope: a reference is the retiring account's, ``RetirementReferenceUsed``). Two accounts
  using one reference is not flagged: the contract lets them, and references are their own invoice numbers.
- ``mrv-interval-twice``: two approved MRV reports of one device with overlapping intervals (``[start, end)``) or
  sequence ranges. A rejected report's interval may be reported again; only approved reports count. The MRV
  contract refuses a report that does not continue the last approved one (``MrvReportNotContiguous``,
  ``MrvWrongFirstSequence``).

market abuse (``OrderFilled`` of the exchange, read as ``Ledger.deals()``: each delivery once, a match's two
fills, one per order, are one deal)
- ``self-trade``: buyer and seller one account (the exchange refuses it: ``ExchangeSelfTrade``), or two accounts
  of one identity group of the config (the chain records no identities: ``tonne.supervise.config``).
- ``round-trip``: credits of an id that leave A by a deal and come back to A (parties: accounts or identity
  groups) within the window, by any path of up to 3 moves, deals or plain transfers (A -> B -> A, the "instant
  refund" by ``safeTransferFrom`` included; A -> B -> D -> A). A deal's own delivery (the transfer in its
  transaction), mints, burns and moves into or out of the Tonne contracts' escrow are not moves between parties;
  the amounts along the path are not compared (part of a lot coming back is a round trip too). One alert per
  returning move, with the latest departure it closes. Not seen: a path of 4 moves or more, or one through a
  chain the index does not follow.
- ``price-outlier``: a deal whose price per unit is more than ``ratio`` times, or less than 1/``ratio`` of, the
  median by units (volume-weighted: the price at which half the units of the window traded lower, so fills of a
  few units do not move it) of the id's earlier deals in the same payment token within the window (at least
  ``min_trades`` of them). Not seen: prices are compared only within one payment token (events do not say a
  token's decimals or worth), so a deal priced in a token no other deal of the id uses, e.g. a token of the
  trader's own (the exchange settles in whatever token the order names), has no history and is not compared.
- ``collateral-price-spike``: credits pledged to the credit facility while the oracle price of their class stands
  ``rise`` or more above its lowest value in the window before the pledge (the price in force at the window's start
  included).

compliance
- ``obligation-short``: an entity's surrendered units below its obligation with the deadline ``warning_days`` or
  less away (warning), or past (critical).

risk
- ``near-liquidation``: a facility position whose health factor is below the threshold (warning), or below 1.0
  (critical, liquidatable now, whatever the threshold: the config refuses a threshold below 1.0). The
  health is the facility's own (``CreditFacility._health``): per collateral id of a project the token does not
  restrict and a class with a liquidation threshold, value = units x price / 1,000 (the oracle's latest price of
  the id's class, ``ClassAssigned`` or the id itself), limit = value x thresholdBps / 10,000; debt = ceil(scaled
  debt x index / 1e27), the index projected to ``now`` from the facility's last accrual and rate; health = limit x
  1e18 / debt. Not seen: a matured position is liquidatable whatever its health (the maturity is not tracked), and
  a price's staleness is judged by the block it was posted in, not its ``observedAt``.
- ``concentration``: one party (an account, or the accounts of one identity group of the config together)
  holding more than ``share`` of an id's circulating supply (issued - retired - cancelled), the Tonne contracts'
  escrow (facility, bilateral pledge, exchange, home bridge, on their own chain) never flagged. By default a
  holding counts what the party received from others, by transfers and deals (not mints: an issuance is the
  primary market; not moves between its own accounts; units back from an escrow contract up to what the account
  put in are its own), capped at what it holds: a developer that sold its batch and bought it back is counted,
  one that holds what it was issued is not. ``include_issued``: count every unit held.
- ``suspended-project-activity``: credits of a project moved (transfers, trades, issuances, retirements) after its
  status changed to Suspended or Terminated and before it was approved again. Cancellations (reversals) are
  allowed on suspended credits and are not flagged. What cannot be seen: the token refuses every such move
  (``CreditProjectRestricted``), and a refused transaction leaves no event, so attempts are invisible here; the
  rule can only prove that none got through. The mirror's moves on a remote chain are judged by the suspensions of
  the home chain its bridge links to (``BridgeLinked``; with no link in the index, of every chain with a
  registry), in block time, the chains having no common block order; the mirror learns of a suspension only with
  the bridge's next message, so a remote move between the two is flagged (it got through).

Switching a rule off is the config's ``disabled`` list. Some accepted values stop a rule in effect, being the far
end of their range: ``concentration.share = 1`` or a huge ``min_supply_tonnes``; ``price-outlier.window_days =
0``, a huge ``min_trades`` or ``ratio``; ``round-trip.window_hours = 0`` (moves in one block only);
``collateral-price-spike.window_hours = 0`` (the price in force only) or a huge ``rise``;
``obligation-short.warning_days = 0`` (no warning, critical after the deadline only). ``near-liquidation.health``
cannot: a health below 1.0 is critical whatever it is.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import NamedTuple

from tonne.core.ids import describe, project_of
from tonne.core.units import UNITS_PER_TONNE, format_tonnes
from tonne.supervise.alerts import Alert
from tonne.supervise.config import Config, load
from tonne.supervise.ledger import ZERO, Ledger, Where

ZERO_REF = "0x" + "00" * 32
RAY = 10**27
WAD = 10**18
BPS = 10_000
SUSPENDED, TERMINATED, APPROVED = 3, 4, 2
STATUS_NAMES = {0: "None", 1: "Pending", 2: "Approved", 3: "Suspended", 4: "Terminated"}
VOLUNTARY = 0


def _txs(*wheres: Where | None) -> list[str]:
    """Transaction hashes of ``wheres``, once each, in chain order."""
    out: list[str] = []
    for w in sorted((w for w in wheres if w is not None), key=_order):
        if w.tx_hash not in out:
            out.append(w.tx_hash)
    return out


def _order(w: Where) -> tuple[int, int, int]:
    return (w.chain_id, w.block_number, w.log_index)


def _latest(*wheres: Where | None) -> int:
    return max((w.timestamp for w in wheres if w is not None), default=0)


# ------------------------------------------------------------------------------------------------ accounting


def cap_exceeded(ledger: Ledger, config: Config, now: int) -> Iterable[Alert]:
    by_id: dict[tuple[int, int], list] = defaultdict(list)
    for issuance in ledger.issuances:
        by_id[(issuance[0], issuance[1])].append(issuance)
    for (chain, token_id), supply in ledger.supply.items():
        if supply.issued_events == 0 or (supply.cap is not None and supply.issued <= supply.cap):
            continue
        cap = supply.cap or 0
        running, over = 0, []
        for issuance in by_id[(chain, token_id)]:
            running += issuance[3]
            if running > cap:
                over.append(issuance)
        what = (
            f"against a cap of {format_tonnes(cap)}"
            if supply.cap is not None
            else "with no batch opened on the token (no cap)"
        )
        yield Alert(
            "cap-exceeded",
            "critical",
            f"cap-exceeded:{chain}:{token_id}",
            f"{describe(token_id)}: {format_tonnes(supply.issued)} issued {what}, {format_tonnes(supply.issued - cap)} "
            "more than the batch allows",
            _latest(*(i[5] for i in over)),
            chain,
            {
                "txs": _txs(*(i[5] for i in over)),
                "id": token_id,
                "cap": supply.cap,
                "issued": supply.issued,
                "recipients": sorted({i[2] for i in over}),
                "amounts": [i[3] for i in over],
            },
        )


def serial_overlap(ledger: Ledger, config: Config, now: int) -> Iterable[Alert]:
    by_project: dict[tuple[int, int], list] = defaultdict(list)
    for batch in ledger.batches.values():
        by_project[(batch.chain_id, batch.project_id)].append(batch)
    for (chain, project_id), batches in by_project.items():
        batches.sort(key=lambda b: (b.serial_first, b.serial_last, b.token_id))
        for i, a in enumerate(batches):
            for b in batches[i + 1 :]:
                if b.serial_first > a.serial_last:
                    break
                first, last = b.serial_first, min(a.serial_last, b.serial_last)
                yield Alert(
                    "serial-overlap",
                    "critical",
                    f"serial-overlap:{chain}:{min(a.token_id, b.token_id)}:{max(a.token_id, b.token_id)}",
                    f"project {project_id}: batches {describe(a.token_id)} (serials {a.serial_first}-{a.serial_last}) "
                    f"and {describe(b.token_id)} (serials {b.serial_first}-{b.serial_last}) share serials "
                    f"{first}-{last}: {format_tonnes((last - first + 1) * UNITS_PER_TONNE)} counted twice",
                    _latest(a.where, b.where),
                    chain,
                    {
                        "txs": _txs(a.where, b.where),
                        "project": project_id,
                        "ids": [a.token_id, b.token_id],
                        "ranges": [[a.serial_first, a.serial_last], [b.serial_first, b.serial_last]],
                        "overlap": [first, last],
                    },
                )


def issuance_reference_reused(ledger: Ledger, config: Config, now: int) -> Iterable[Alert]:
    by_reference: dict[tuple[int, str], list] = defaultdict(list)
    for batch in ledger.batches.values():
        if batch.issuance_reference:
            by_reference[(batch.chain_id, batch.issuance_reference)].append(batch)
    for (chain, reference), batches in by_reference.items():
        if len(batches) < 2:
            continue
        batches.sort(key=lambda b: _order(b.where))
        yield Alert(
            "issuance-reference-reused",
            "critical",
            f"issuance-reference-reused:{chain}:batch:{reference}",
            f"issuance reference {reference!r} names {len(batches)} batches: "
            f"{', '.join(describe(b.token_id) for b in batches)}; one issuance of the standard registered twice",
            _latest(*(b.where for b in batches)),
            chain,
            {
                "txs": _txs(*(b.where for b in batches)),
                "reference": reference,
                "ids": [b.token_id for b in batches],
                "projects": sorted({b.project_id for b in batches}),
            },
        )
    by_order: dict[tuple[int, int, str], list] = defaultdict(list)
    for issuance in ledger.issuances:
        chain, token_id, _to, _units, reference, _where = issuance
        if reference and reference != ZERO_REF:
            by_order[(chain, project_of(token_id), reference)].append(issuance)
    for (chain, project_id, reference), issuances in by_order.items():
        if len(issuances) < 2:
            continue
        units = sum(i[3] for i in issuances)
        yield Alert(
            "issuance-reference-reused",
            "critical",
            f"issuance-reference-reused:{chain}:order:{project_id}:{reference}",
            f"project {project_id}: order reference {reference} issued {len(issuances)} times "
            f"({format_tonnes(units)} in all, to {', '.join(sorted({i[2] for i in issuances}))}); "
            "one order is issued once",
            _latest(*(i[5] for i in issuances)),
            chain,
            {
                "txs": _txs(*(i[5] for i in issuances)),
                "project": project_id,
                "reference": reference,
                "ids": [i[1] for i in issuances],
                "accounts": [i[2] for i in issuances],
                "amounts": [i[3] for i in issuances],
            },
        )


# ------------------------------------------------------------------------------------------------ double offsetting


def retired_and_surrendered(ledger: Ledger, config: Config, now: int) -> Iterable[Alert]:
    by_certificate: dict[tuple[int, int], list] = defaultdict(list)
    for surrender in ledger.surrenders:
        by_certificate[(surrender.where.chain_id, surrender.certificate_id)].append(surrender)
    for (chain, certificate_id), surrenders in by_certificate.items():
        certificate = ledger.certificates.get((chain, certificate_id))
        surrendered = sum(s.amount for s in surrenders)
        problems = []
        if len(surrenders) > 1:
            periods = sorted({s.period_id for s in surrenders})
            where = f"in periods {', '.join(map(str, periods))}" if len(periods) > 1 else f"in period {periods[0]}"
            problems.append(f"surrendered {len(surrenders)} times {where}")
        if certificate is None:
            problems.append("no retirement of the index recorded it")
        else:
            if surrendered > certificate.units:
                problems.append(
                    f"surrendered for {format_tonnes(surrendered)}, more than its {format_tonnes(certificate.units)}"
                )
            if certificate.purpose == VOLUNTARY:
                problems.append("it is a voluntary retirement, claimed again for compliance")
        if not problems:
            continue
        wheres = [s.where for s in surrenders] + ([certificate.where] if certificate else [])
        yield Alert(
            "retired-and-surrendered",
            "critical",
            f"retired-and-surrendered:{chain}:{certificate_id}",
            f"certificate {certificate_id}: " + "; ".join(problems),
            _latest(*wheres),
            chain,
            {
                "txs": _txs(*wheres),
                "certificate": certificate_id,
                "entities": sorted({s.entity for s in surrenders}),
                "periods": [s.period_id for s in surrenders],
                "surrendered": [s.amount for s in surrenders],
                "certificate_units": certificate.units if certificate else None,
                "ids": certificate.ids if certificate else [],
            },
        )


def bridged_and_retired(ledger: Ledger, config: Config, now: int) -> Iterable[Alert]:
    for (home, remote_chain, token_id), flow in ledger.bridge.items():
        if not flow.locked and not flow.released:
            continue  # the home side of this id is not in the index
        supply = ledger.supply.get((home, token_id))
        if supply is None:
            continue
        outstanding = flow.locked - flow.released
        available = supply.issued - supply.cancelled
        home_retired = supply.retired
        remote = ledger.supply.get((remote_chain, token_id)) if remote_chain else None
        remote_retired = remote.retired if remote is not None else 0
        problems = []
        if home_retired > available - outstanding:
            problems.append(
                f"{format_tonnes(home_retired)} retired at home, but only {format_tonnes(available - outstanding)} "
                f"remained there after {format_tonnes(outstanding)} were locked in the bridge"
            )
        if remote is not None and remote_retired > outstanding:
            problems.append(
                f"{format_tonnes(remote_retired)} retired on chain {remote_chain}, more than the "
                f"{format_tonnes(outstanding)} still locked at home"
            )
        if remote is not None and home_retired + remote_retired > available:
            problems.append(
                f"{format_tonnes(home_retired + remote_retired)} retired on both chains together, of "
                f"{format_tonnes(available)} issued"
            )
        if not problems:
            continue
        retirements = [c.where for c in ledger.certificates.values() if c.chain_id == home and token_id in c.ids] + [
            r["where"] for r in ledger.remote_retirements if r["id"] == token_id
        ]
        wheres = [w for _kind, _units, w in flow.moves] + retirements
        yield Alert(
            "bridged-and-retired",
            "critical",
            f"bridged-and-retired:{home}:{token_id}",
            f"{describe(token_id)}: " + "; ".join(problems) + ": the same credits offset twice",
            _latest(*wheres),
            home,
            {
                "txs": _txs(*wheres),
                "id": token_id,
                "issued": supply.issued,
                "cancelled": supply.cancelled,
                "locked": flow.locked,
                "released": flow.released,
                "retired_home": home_retired,
                "retired_remote": remote_retired,
                "remote_chain": remote_chain,
            },
        )


def retirement_reference_reused(ledger: Ledger, config: Config, now: int) -> Iterable[Alert]:
    by_reference: dict[tuple[int, str, str], list] = defaultdict(list)
    for certificate in ledger.certificates.values():
        if certificate.reference and certificate.reference != ZERO_REF:
            key = (certificate.chain_id, certificate.retiring_account, certificate.reference)
            by_reference[key].append(certificate)
    for (chain, account, reference), certificates in by_reference.items():
        if len(certificates) < 2:
            continue
        certificates.sort(key=lambda c: _order(c.where))
        units = sum(c.units for c in certificates)
        yield Alert(
            "retirement-reference-reused",
            "critical",
            f"retirement-reference-reused:{chain}:{account}:{reference}",
            f"{account} used retirement reference {reference} on {len(certificates)} certificates "
            f"({', '.join(str(c.certificate_id) for c in certificates)}; {format_tonnes(units)} in all): "
            "one retirement claimed twice",
            _latest(*(c.where for c in certificates)),
            chain,
            {
                "txs": _txs(*(c.where for c in certificates)),
                "account": account,
                "reference": reference,
                "certificates": [c.certificate_id for c in certificates],
                "amounts": [c.units for c in certificates],
                "beneficiaries": [c.beneficiary for c in certificates],
            },
        )


def mrv_interval_twice(ledger: Ledger, config: Config, now: int) -> Iterable[Alert]:
    by_device: dict[str, list] = defaultdict(list)
    for report in ledger.reports.values():
        if report.state == "approved":
            by_device[report.device_id].append(report)
    for device, reports in by_device.items():
        reports.sort(key=lambda r: (r.start, r.report_id))
        for i, a in enumerate(reports):
            for b in reports[i + 1 :]:
                time_overlap = b.start < a.end and a.start < b.end
                sequence_overlap = b.first_sequence <= a.last_sequence and a.first_sequence <= b.last_sequence
                if not (time_overlap or sequence_overlap):
                    continue
                what = []
                if time_overlap:
                    what.append(f"the interval {max(a.start, b.start)}-{min(a.end, b.end)}")
                if sequence_overlap:
                    first, last = max(a.first_sequence, b.first_sequence), min(a.last_sequence, b.last_sequence)
                    what.append(f"readings {first}-{last}")
                chain = a.where.chain_id if a.where else 0
                yield Alert(
                    "mrv-interval-twice",
                    "critical",
                    f"mrv-interval-twice:{chain}:{device}:{a.report_id}:{b.report_id}",
                    f"device {device}: approved reports {a.report_id} and {b.report_id} both cover "
                    f"{' and '.join(what)}: the same generation credited twice (batches {a.batch_id} and "
                    f"{b.batch_id})",
                    _latest(a.where, b.where),
                    chain,
                    {
                        "txs": _txs(a.where, b.where),
                        "device": device,
                        "reports": [a.report_id, b.report_id],
                        "intervals": [[a.start, a.end], [b.start, b.end]],
                        "sequences": [[a.first_sequence, a.last_sequence], [b.first_sequence, b.last_sequence]],
                        "batches": [a.batch_id, b.batch_id],
                    },
                )


# ------------------------------------------------------------------------------------------------ market abuse


def _price_text(price_per_unit: int) -> str:
    """A fill's price a tonne, in the payment token's base units (events do not say its decimals)."""
    return f"{price_per_unit * UNITS_PER_TONNE:,} payment-token units a tonne"


def self_trade(ledger: Ledger, config: Config, now: int) -> Iterable[Alert]:
    for trade in ledger.deals():
        seller, buyer = trade.seller, trade.buyer
        if seller.lower() == buyer.lower():
            severity, who = "critical", f"{seller} traded with itself"
        else:
            group = config.identity_of(seller)
            if group is None or group != config.identity_of(buyer):
                continue
            severity, who = "warning", f"{seller} sold to {buyer}, both of identity {group!r}"
        w = trade.where
        yield Alert(
            "self-trade",
            severity,
            f"self-trade:{w.chain_id}:{w.tx_hash}:{w.log_index}",
            f"{describe(trade.token_id)}: {who}: {format_tonnes(trade.units)} at {_price_text(trade.price_per_unit)}; "
            "no change of owner, only volume and a price",
            w.timestamp,
            w.chain_id,
            {
                "txs": [w.tx_hash],
                "id": trade.token_id,
                "seller": seller,
                "buyer": buyer,
                "units": trade.units,
                "price_per_unit": trade.price_per_unit,
                "identity": config.identity_of(seller),
                "order": trade.order_hash,
            },
        )


class _Leg(NamedTuple):
    """One move of an id between two parties (``round_trip``): a deal or a plain transfer."""

    seller: str  # the accounts
    buyer: str
    source: str  # their parties (``Config.party``)
    to: str
    units: int
    price_per_unit: int | None  # None: a transfer
    where: Where


def _legs(ledger: Ledger, config: Config) -> dict[tuple[int, int], list[_Leg]]:
    """Per (chain, id), its moves between two parties in chain order: every deal, and every transfer that is not
    a mint or a burn, not a deal's own delivery (a transfer of the id in a deal's transaction), and not into or out
    of the Tonne contracts' escrow (a pledge, its withdrawal, a lock: no change of owner)."""
    deals = ledger.deals()
    dealt = {(t.where.chain_id, t.where.tx_hash, t.token_id) for t in deals}
    by_id: dict[tuple[int, int], list[_Leg]] = defaultdict(list)
    for t in deals:
        leg = _Leg(t.seller, t.buyer, config.party(t.seller), config.party(t.buyer), t.units, t.price_per_unit, t.where)
        by_id[(t.where.chain_id, t.token_id)].append(leg)
    for chain, token_id, source, to, units, where in ledger.transfers:
        if units == 0 or ZERO in (source, to) or (chain, where.tx_hash, token_id) in dealt:
            continue
        if (chain, source) in ledger.escrow or (chain, to) in ledger.escrow:
            continue
        by_id[(chain, token_id)].append(_Leg(source, to, config.party(source), config.party(to), units, None, where))
    for legs in by_id.values():
        legs.sort(key=lambda leg: _order(leg.where))
    return by_id


def _onward(legs: list[_Leg], indexes: list[int], start: int, deadline: float) -> Iterable[tuple[int, _Leg]]:
    """The legs of ``indexes`` (increasing) from index ``start`` on, up to ``deadline``."""
    for j in indexes[bisect_left(indexes, start) :]:
        leg = legs[j]
        if leg.where.timestamp > deadline:
            return
        yield j, leg


def round_trip(ledger: Ledger, config: Config, now: int) -> Iterable[Alert]:
    window = config.round_trip.window_hours * 3600
    for (chain, token_id), legs in _legs(ledger, config).items():
        # Each party's legs out, and the legs from one party to another, by index (increasing).
        by_source: dict[str, list[int]] = defaultdict(list)
        by_pair: dict[tuple[str, str], list[int]] = defaultdict(list)
        for i, leg in enumerate(legs):
            if leg.source != leg.to:
                by_source[leg.source].append(i)
                by_pair[(leg.source, leg.to)].append(i)
        # The return leg -> the latest departure it closes, and the path between: one alert per return.
        closed: dict[int, tuple[int, list[_Leg]]] = {}
        for i, first in enumerate(legs):
            home = first.source
            if first.price_per_unit is None or home == first.to:
                continue  # the credits leave by a deal; a move within one party is self-trade's
            deadline = first.where.timestamp + window
            for j, second in _onward(legs, by_pair.get((first.to, home), []), i + 1, deadline):
                closed[j] = (i, [first, second])
            for j, second in _onward(legs, by_source.get(first.to, []), i + 1, deadline):
                if second.to == home:
                    continue
                for k, third in _onward(legs, by_pair.get((second.to, home), []), j + 1, deadline):
                    closed[k] = (i, [first, second, third])  # a later departure replaces an earlier one
        for _k, (_i, path) in sorted(closed.items()):
            first, last = path[0], path[-1]
            hours = (last.where.timestamp - first.where.timestamp) / 3600
            steps = "; ".join(
                f"{leg.seller} {'sold' if leg.price_per_unit is not None else 'sent'} {format_tonnes(leg.units)} "
                f"to {leg.buyer}" + (f" at {_price_text(leg.price_per_unit)}" if leg.price_per_unit is not None else "")
                for leg in path
            )
            yield Alert(
                "round-trip",
                "warning",
                f"round-trip:{chain}:{first.where.tx_hash}:{first.where.log_index}:{last.where.tx_hash}:"
                f"{last.where.log_index}",
                f"{describe(token_id)}: back to where it started in {len(path)} moves and {hours:.1f} h (window "
                f"{config.round_trip.window_hours:g} h): {steps}",
                last.where.timestamp,
                chain,
                {
                    "txs": _txs(*(leg.where for leg in path)),
                    "id": token_id,
                    "accounts": [first.seller, first.buyer],
                    "path": [first.seller, *(leg.buyer for leg in path)],
                    "units": [leg.units for leg in path],
                    "prices_per_unit": [leg.price_per_unit for leg in path],
                    "seconds_apart": last.where.timestamp - first.where.timestamp,
                },
            )


def weighted_median(prices_and_units: Iterable[tuple[int, int]]) -> float:
    """The median price of the units, not of the fills: the price at which half the units traded lower and half
    higher (the mean of the two middle prices when the units split exactly in half there, as ``statistics.median``
    does for an even count). A fill of one unit weighs one unit."""
    ordered = sorted((p, u) for p, u in prices_and_units if u > 0)
    total = sum(u for _p, u in ordered)
    if total == 0:
        return 0
    running = 0
    for i, (price, units) in enumerate(ordered):
        running += units
        if 2 * running > total:
            return price
        if 2 * running == total:
            return (price + ordered[i + 1][0]) / 2
    return ordered[-1][0]  # pragma: no cover - the loop returns by the last fill


def price_outlier(ledger: Ledger, config: Config, now: int) -> Iterable[Alert]:
    settings = config.price_outlier
    window = settings.window_days * 86_400
    earlier: dict[tuple[int, int, str], list] = defaultdict(list)
    for trade in ledger.deals():
        w = trade.where
        history = earlier[(w.chain_id, trade.token_id, trade.payment_token.lower())]
        while history and w.timestamp - history[0].where.timestamp > window:
            history.pop(0)
        if len(history) >= settings.min_trades:
            middle = weighted_median((t.price_per_unit, t.units) for t in history)
            price = trade.price_per_unit
            if middle > 0 and (price > middle * settings.ratio or price * settings.ratio < middle):
                factor = price / middle
                yield Alert(
                    "price-outlier",
                    "warning",
                    f"price-outlier:{w.chain_id}:{w.tx_hash}:{w.log_index}",
                    f"{describe(trade.token_id)}: {format_tonnes(trade.units)} from {trade.seller} to {trade.buyer} "
                    f"at {_price_text(price)}, {factor:.2f} times the median by units "
                    f"{_price_text(int(middle))} of the {format_tonnes(sum(t.units for t in history))} in the "
                    f"{len(history)} fills of the {settings.window_days:g} days before (limit x{settings.ratio:g})",
                    w.timestamp,
                    w.chain_id,
                    {
                        "txs": [w.tx_hash],
                        "id": trade.token_id,
                        "seller": trade.seller,
                        "buyer": trade.buyer,
                        "units": trade.units,
                        "price_per_unit": price,
                        "median_per_unit": middle,
                        "fills": len(history),
                        "units_in_window": sum(t.units for t in history),
                        "payment_token": trade.payment_token,
                    },
                )
        history.append(trade)


def collateral_price_spike(ledger: Ledger, config: Config, now: int) -> Iterable[Alert]:
    settings = config.collateral_price_spike
    window = settings.window_hours * 3600
    by_class: dict[tuple[int, int], list[tuple[int, Where]]] = defaultdict(list)
    for class_id, price, where in ledger.prices:
        by_class[(where.chain_id, class_id)].append((price, where))
    for position_id, owner, ids, amounts, pledge in ledger.collateral_pledges:
        for token_id, units in zip(ids, amounts, strict=True):
            class_id = ledger.classes.get((pledge.chain_id, token_id), token_id)
            posted = [(p, w) for p, w in by_class[(pledge.chain_id, class_id)] if _order(w) < _order(pledge)]
            if not posted:
                continue
            start = pledge.timestamp - window
            before = [(p, w) for p, w in posted if w.timestamp < start]
            seen = ([before[-1]] if before else []) + [(p, w) for p, w in posted if w.timestamp >= start]
            low_price, low_where = min(seen, key=lambda pw: pw[0])
            price, price_where = posted[-1]
            if price < low_price * (1 + settings.rise):
                continue
            rise = price / low_price - 1
            yield Alert(
                "collateral-price-spike",
                "warning",
                f"collateral-price-spike:{pledge.chain_id}:{pledge.tx_hash}:{pledge.log_index}:{token_id}",
                f"{describe(token_id)}: {format_tonnes(units)} pledged to the credit facility (position {position_id}, "
                f"{owner}) while the oracle price of its class stood at {price:,} loan-token units a tonne, {rise:.0%} "
                f"above its low of {low_price:,} in the {settings.window_hours:g} h before (limit {settings.rise:.0%})",
                pledge.timestamp,
                pledge.chain_id,
                {
                    "txs": _txs(low_where, price_where, pledge),
                    "id": token_id,
                    "class": class_id,
                    "position": position_id,
                    "owner": owner,
                    "units": units,
                    "price": price,
                    "low": low_price,
                    "rise": rise,
                },
            )


# ------------------------------------------------------------------------------------------------ compliance


def obligation_short(ledger: Ledger, config: Config, now: int) -> Iterable[Alert]:
    warn = config.obligation_short.warning_days * 86_400
    surrendered: dict[tuple[int, str], list] = defaultdict(list)
    for s in ledger.surrenders:
        surrendered[(s.period_id, s.entity)].append(s)
    for (period_id, entity), obligation in ledger.obligations.items():
        period = ledger.periods.get(period_id)
        if period is None or obligation == 0:
            continue
        done = surrendered[(period_id, entity)]
        total = sum(s.amount for s in done)
        if total >= obligation:
            continue
        # ``at``: when the finding began (the deadline passed; the warning window opened), or the newest surrender,
        # so that the same finding has the same time in every run.
        if now > period.deadline:
            severity, when = "critical", f"the deadline passed {(now - period.deadline) / 86_400:.1f} days ago"
            began = period.deadline + 1
        elif period.deadline - now <= warn:
            severity, when = "warning", f"the deadline is in {(period.deadline - now) / 86_400:.1f} days"
            began = int(period.deadline - warn)
        else:
            continue
        name = ledger.entity_names.get((period_id, entity), "")
        chain = period.where.chain_id
        yield Alert(
            "obligation-short",
            severity,
            f"obligation-short:{chain}:{period_id}:{entity}:{severity}",
            f"{name or entity} ({entity}), period {period_id} {period.name!r}: surrendered {format_tonnes(total)} of "
            f"{format_tonnes(obligation)}, {format_tonnes(obligation - total)} short; {when}",
            max(began, _latest(period.where, *(s.where for s in done))),
            chain,
            {
                "txs": _txs(period.where, *(s.where for s in done)),
                "period": period_id,
                "entity": entity,
                "name": name,
                "obligation": obligation,
                "surrendered": total,
                "deadline": period.deadline,
            },
        )


# ------------------------------------------------------------------------------------------------ risk


def _latest_prices(ledger: Ledger) -> dict[tuple[int, int], tuple[int, Where]]:
    out: dict[tuple[int, int], tuple[int, Where]] = {}
    for class_id, price, where in ledger.prices:
        out[(where.chain_id, class_id)] = (price, where)
    return out


def near_liquidation(ledger: Ledger, config: Config, now: int) -> Iterable[Alert]:
    threshold = config.near_liquidation.health
    prices = _latest_prices(ledger)
    index = ledger.accrual.index_at(now)
    for position in ledger.positions.values():
        if position.scaled_debt == 0 or position.where is None:
            continue
        chain = position.where.chain_id
        debt = -(-position.scaled_debt * index // RAY)
        limit, lines, wheres = 0, [], [position.where]
        for token_id, units in sorted(position.collateral.items()):
            if units <= 0 or ledger.restricted.get((chain, project_of(token_id)), False):
                continue
            class_id = ledger.classes.get((chain, token_id), token_id)
            params = ledger.class_params.get(class_id)
            quote = prices.get((chain, class_id))
            if params is None or params[1] == 0 or quote is None:
                continue
            price, where = quote
            value = units * price // UNITS_PER_TONNE
            limit += value * params[1] // BPS
            wheres.append(where)
            lines.append(
                {"id": token_id, "units": units, "class": class_id, "price": price, "threshold_bps": params[1]}
            )
        health = limit * WAD // debt
        # Below 1.0 a position is liquidatable now: critical whatever the warning threshold (the config refuses a
        # threshold below 1.0, but a Config built in code may still hold one).
        if health >= threshold * WAD and health >= WAD:
            continue
        severity = "critical" if health < WAD else "warning"
        state = "liquidatable now" if severity == "critical" else f"below the {threshold:g} the monitor warns at"
        collateral = ", ".join(f"{format_tonnes(line['units'])} of {describe(line['id'])}" for line in lines)
        yield Alert(
            "near-liquidation",
            severity,
            f"near-liquidation:{chain}:{position.position_id}:{severity}",
            f"position {position.position_id} of {position.owner}: health {health / WAD:.3f}, {state}; debt {debt:,} "
            f"against a liquidation limit of {limit:,} (loan token units) on {collateral or 'no valued collateral'}",
            _latest(*wheres),
            chain,
            {
                "txs": _txs(*wheres),
                "position": position.position_id,
                "owner": position.owner,
                "debt": debt,
                "scaled_debt": position.scaled_debt,
                "index": index,
                "liquidation_limit": limit,
                "health": health / WAD,
                "collateral": lines,
            },
        )


def _received(ledger: Ledger, config: Config) -> dict[tuple[int, int, str], tuple[int, list[Where]]]:
    """Per (chain, id, party), the units its accounts received from others, with the moves: transfers from another
    party (not mints: an issuance is the primary market), and deals whose delivery no transfer of the index shows.
    Units an account gets back from an escrow contract, up to what it put in (a withdrawn pledge, a cancelled
    order, a bridge's release), are its own, not received; beyond that (a liquidator's seized collateral, a
    pledgee's claim) they are."""
    received: dict[tuple[int, int, str], int] = defaultdict(int)
    moves: dict[tuple[int, int, str], list[Where]] = defaultdict(list)
    deposited: dict[tuple[int, int, str, str], int] = defaultdict(int)  # (chain, id, account, escrow) -> units
    delivered: set[tuple[int, str, int, str]] = set()
    for chain, token_id, source, to, units, where in ledger.transfers:
        delivered.add((chain, where.tx_hash, token_id, to))
        if units == 0 or source == ZERO or to == ZERO:
            continue
        if (chain, to) in ledger.escrow:
            deposited[(chain, token_id, source, to)] += units
            continue
        if (chain, source) in ledger.escrow:
            back = min(units, deposited[(chain, token_id, to, source)])
            deposited[(chain, token_id, to, source)] -= back
            units -= back
        party = config.party(to)
        if units > 0 and config.party(source) != party:
            received[(chain, token_id, party)] += units
            moves[(chain, token_id, party)].append(where)
    for trade in ledger.deals():
        w = trade.where
        party = config.party(trade.buyer)
        if (w.chain_id, w.tx_hash, trade.token_id, trade.buyer) in delivered or config.party(trade.seller) == party:
            continue
        received[(w.chain_id, trade.token_id, party)] += trade.units
        moves[(w.chain_id, trade.token_id, party)].append(w)
    return {key: (units, moves[key]) for key, units in received.items()}


def concentration(ledger: Ledger, config: Config, now: int) -> Iterable[Alert]:
    settings = config.concentration
    received = _received(ledger, config)
    inbound: dict[tuple[int, int, str], list[Where]] = defaultdict(list)
    for chain, token_id, _source, to, _units, where in ledger.transfers:
        inbound[(chain, token_id, to)].append(where)
    # (chain, id) -> party -> its accounts' holdings
    held: dict[tuple[int, int], dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
    for (chain, token_id, holder), units in ledger.balances.items():
        if units > 0 and holder != ZERO and (chain, holder) not in ledger.escrow:
            held[(chain, token_id)][config.party(holder)][holder] = units
    for (chain, token_id), parties in held.items():
        supply = ledger.supply.get((chain, token_id))
        if supply is None or supply.circulating < settings.min_supply_tonnes * UNITS_PER_TONNE:
            continue
        circulating = supply.circulating
        for party, accounts in sorted(parties.items()):
            units = sum(accounts.values())
            got, moves = received.get((chain, token_id, party), (0, []))
            counted = units if settings.include_issued else min(units, got)
            if counted <= settings.share * circulating:
                continue
            share = counted / circulating
            group = config.identity_of(next(iter(accounts)))
            holder = f"identity:{group}" if group is not None else next(iter(accounts))
            who = f"identity {group!r} ({', '.join(sorted(accounts))})" if group is not None else holder
            # the evidence: the latest moves that made the counted holding (or, counting issued units, that brought
            # the units in: an issuance's mint too)
            everything = sorted((w for a in accounts for w in inbound[(chain, token_id, a)]), key=_order)
            recent = (moves if moves and not settings.include_issued else everything)[-10:]
            yield Alert(
                "concentration",
                "warning",
                f"concentration:{chain}:{token_id}:{holder}",
                f"{describe(token_id)}: {who} holds {format_tonnes(units)}"
                + ("" if settings.include_issued else f" ({format_tonnes(counted)} of it bought or received)")
                + f", {share:.0%} of the {format_tonnes(circulating)} in circulation (limit {settings.share:.0%})",
                _latest(*recent),
                chain,
                {
                    "txs": _txs(*recent),
                    "id": token_id,
                    "holder": holder,
                    "accounts": sorted(accounts),
                    "units": units,
                    "counted": counted,
                    "received": got,
                    "circulating": circulating,
                    "share": share,
                },
            )


def suspended_project_activity(ledger: Ledger, config: Config, now: int) -> Iterable[Alert]:
    # (chain, project) -> [(from where, until where or None, status, reason)]
    spans: dict[tuple[int, int], list] = {}
    for (chain, project_id), project in ledger.projects.items():
        open_span = None
        for _from, to, reason, where in project.get("history", []):
            if to in (SUSPENDED, TERMINATED) and open_span is None:
                open_span = [where, None, to, reason]
                spans.setdefault((chain, project_id), []).append(open_span)
            elif to == APPROVED and open_span is not None:
                open_span[1] = where
                open_span = None
    if not spans:
        return
    # A remote chain's moves (the mirror's) are judged by the spans of the home chain its bridge links to, in
    # block time (two chains have no common block order); with no link in the index, by the spans of every chain
    # with a registry, the mirror's ids being the home's.
    homes: dict[int, set[int]] = defaultdict(set)
    for (chain, address), other in ledger.links.items():
        name = ledger.names.get((chain, address))
        if name == "RemoteBridge":
            homes[chain].add(other)
        elif name == "HomeBridge":
            homes[other].add(chain)
    registries = {chain for chain, _project in ledger.projects}

    def span_of(chain: int, token_id: int, where: Where):
        project_id = project_of(token_id)
        for span in spans.get((chain, project_id), ()):
            if _order(span[0]) < _order(where) and (span[1] is None or _order(where) < _order(span[1])):
                return span
        if chain in registries and chain not in homes:
            return None
        for home in sorted(homes.get(chain) or registries - {chain}):
            for span in spans.get((home, project_id), ()):
                since, until = span[0].timestamp, span[1].timestamp if span[1] is not None else None
                if since < where.timestamp and (until is None or where.timestamp < until):
                    return span
        return None

    cancelled_txs = {(c[0], c[1], c[4].tx_hash) for c in ledger.cancellations}
    found: dict[tuple[int, int, str], dict] = {}

    def note(chain: int, token_id: int, where: Where, what: str, units: int, accounts: list[str]) -> None:
        span = span_of(chain, token_id, where)
        if span is None:
            return
        entry = found.setdefault(
            (chain, project_of(token_id), where.tx_hash),
            {"span": span, "where": where, "what": [], "ids": set(), "accounts": set(), "units": 0},
        )
        entry["what"].append(what)
        entry["ids"].add(token_id)
        entry["accounts"].update(a for a in accounts if a != ZERO)
        entry["units"] = max(entry["units"], units)

    for chain, token_id, source, to, units, where in ledger.transfers:
        if (chain, token_id, where.tx_hash) in cancelled_txs and to == ZERO:
            continue  # a reversal's cancellation: allowed on suspended credits
        kind = "minted" if source == ZERO else "burned" if to == ZERO else "transferred"
        note(chain, token_id, where, f"{format_tonnes(units)} {kind}", units, [source, to])
    for trade in ledger.trades:
        w = trade.where
        accounts = [trade.seller, trade.buyer]
        note(w.chain_id, trade.token_id, w, f"traded {format_tonnes(trade.units)}", trade.units, accounts)
    for chain, token_id, to, units, _ref, where in ledger.issuances:
        note(chain, token_id, where, f"{format_tonnes(units)} issued", units, [to])
    for certificate in ledger.certificates.values():
        for token_id, units in zip(certificate.ids, certificate.amounts, strict=True):
            note(
                certificate.chain_id,
                token_id,
                certificate.where,
                f"{format_tonnes(units)} retired (certificate {certificate.certificate_id})",
                units,
                [certificate.retiring_account],
            )
    for (chain, project_id, tx), entry in found.items():
        since, _until, status, reason = entry["span"]
        what = "; ".join(dict.fromkeys(entry["what"]))
        yield Alert(
            "suspended-project-activity",
            "critical",
            f"suspended-project-activity:{chain}:{project_id}:{tx}",
            f"project {project_id} ({', '.join(describe(i) for i in sorted(entry['ids']))}): {what}, after the "
            f"project was {STATUS_NAMES[status].lower()} at block {since.block_number}"
            + (f" of chain {since.chain_id}" if since.chain_id != chain else "")
            + f" ({reason!r}); "
            + (
                "the token should have refused it"
                if since.chain_id == chain
                else "the mirror should have refused it (unless the bridge's message of the suspension had not "
                "reached it yet)"
            ),
            entry["where"].timestamp,
            chain,
            {
                "txs": _txs(since, entry["where"]),
                "project": project_id,
                "ids": sorted(entry["ids"]),
                "accounts": sorted(entry["accounts"]),
                "units": entry["units"],
                "status": STATUS_NAMES[status],
            },
        )


# ------------------------------------------------------------------------------------------------ all of them

Rule = Callable[[Ledger, Config, int], Iterable[Alert]]
RULES: dict[str, Rule] = {
    "cap-exceeded": cap_exceeded,
    "serial-overlap": serial_overlap,
    "issuance-reference-reused": issuance_reference_reused,
    "retired-and-surrendered": retired_and_surrendered,
    "bridged-and-retired": bridged_and_retired,
    "retirement-reference-reused": retirement_reference_reused,
    "mrv-interval-twice": mrv_interval_twice,
    "self-trade": self_trade,
    "round-trip": round_trip,
    "price-outlier": price_outlier,
    "collateral-price-spike": collateral_price_spike,
    "obligation-short": obligation_short,
    "near-liquidation": near_liquidation,
    "concentration": concentration,
    "suspended-project-activity": suspended_project_activity,
}
RULE_NAMES = tuple(RULES)


def evaluate(ledger: Ledger, config: Config | None = None, now: int | None = None) -> list[Alert]:
    """Every rule's alerts (but the config's ``disabled``), in time order. ``now``: the time deadlines and the
    interest are measured at (default: the ledger's newest block)."""
    config = config or Config()
    now = now if now is not None else (ledger.last_timestamp or 0)
    alerts: list[Alert] = []
    for name, rule in RULES.items():
        if name not in config.disabled:
            alerts.extend(rule(ledger, config, now))
    return sorted(alerts, key=lambda a: (a.at, a.rule, a.key))


def load_config(path: str | None) -> Config:
    """The config file at ``path`` (None: the defaults), its ``disabled`` checked against these rules."""
    return load(path, RULE_NAMES)
