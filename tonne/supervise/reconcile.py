"""The reconciliation: the state the ledger rebuilt from events alone (``tonne.supervise.ledger``), checked
against itself and against what the contracts' views say, every mismatch an alert.

Every read of one reconciliation is pinned to one block per chain, the index's cursor of that chain (the last
block whose events the ledger holds): ``eth_call`` at that block number, so that a chain that moved on since the
index was read is compared at the height of its events, not at its head. Reads go out as JSON-RPC batches of raw
``eth_call`` s (``ChainReader.calls``), encoded with eth_abi from the views' signatures below (those of
``contracts/interfaces``): a view the contracts lost or changed fails its reads, which is itself reported.

What is checked, per chain (rules ``conservation`` for the events alone, ``reconcile-<kind>`` against the chain;
all critical):

1. conservation, events alone, per id of the home token (``CarbonCredit``): the holders' balances sum to
   issued - retired - cancelled, which equals minted - burned (an issue-and-retire issues with no mint), no
   balance is negative, and issued <= the batch's cap; of a mirror (``MirrorCredit``): balances sum to minted -
   burned. Escrow: the credit facility holds, per id, the collateral of its positions; the bilateral pledge the
   credits of its pledges not yet claimed or reclaimed; the home bridge what was locked and not released or
   restored (``BridgeFlow.held_home``).
2. ``reconcile-supply``: per id, ``totalSupply``, ``totalIssued``, ``totalRetired``, ``totalCancelled`` and
   ``issuanceCap`` of the token (a mirror: ``totalSupply``, ``totalRetired``) against the ledger; the home
   bridge's ``locked(id)``. ``reconcile-balance``: every (id, holder) pair the events ever touched (zero balances
   included) against ``balanceOfBatch``, in chunks. A holder the events never mention cannot be found this way:
   a balance created without an event (a token bug) on an account no event names is invisible here; the
   conservation of ``totalSupply`` catches it only when the total moves too.
3. ``reconcile-certificate``: ``certificateCount`` against the certificates indexed, each certificate's stored
   view (beneficiary, retiring account, first id, id count, total, purpose, period, timestamp, country) against
   its ``RetirementRecorded``; ``reconcile-beneficiary``: per beneficiary, the certificates it holds
   (``balanceOf`` of the ERC-721) and their total units (the sum of the stored views' totals) against the
   events. The contract keeps no total per beneficiary, so the totals are of views read one by one.
4. ``reconcile-compliance``: ``periodCount`` and each period's terms (``period``); per (period, entity) the
   ``status``: obligation, surrendered, compliant, and whether the deadline had passed at the pinned block.
5. ``reconcile-position``: the facility's ``positionCount``, each ``position`` (owner, maturity, scaled debt,
   collateral per id), ``totalScaledDebt`` (the sum of the positions') and ``badDebt``; ``reconcile-pledge``:
   the bilateral pledge's ``pledgeCount`` and each ``pledgeOf`` (parties, terms, status, ids, amounts).
6. ``reconcile-bridge``, when both chains of a bridge are indexed (and read): the home bridge's ``locked(id)``
   equals the mirror's ``totalSupply(id)`` + ``totalRetired(id)`` + the units in flight by the events (messages
   sent and not yet delivered, ``BridgeFlow.in_flight``). Units in flight are not a mismatch: they are reported
   as notes (``Reconciliation.notes``), and the alert only fires when the equation fails with them counted.

Not checked here: the market's orders (the exchange holds no credits), prices, MRV reports, and what no view
exposes. The ledger is keyed by chain, not by contract: a chain with two contracts of one name (two suites) is
refused (``ReconcileError``).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from eth_abi import decode, encode
from eth_utils import function_signature_to_4byte_selector, to_checksum_address

from tonne.chain.view import split_types
from tonne.core.ids import describe
from tonne.supervise.alerts import Alert
from tonne.supervise.index import CallFailed, ChainReader
from tonne.supervise.ledger import ZERO, Ledger
from tonne.supervise.store import IndexStore

BALANCE_CHUNK = 200  # (holder, id) pairs per balanceOfBatch
PLEDGE_STATUS = {0: "none", 1: "active", 2: "released", 3: "defaulted", 4: "claimed", 5: "reclaimed"}


class ReconcileError(RuntimeError):
    """The index cannot be reconciled: a chain not read, not indexed yet, or with two contracts of one name."""


@dataclass(frozen=True)
class View:
    """A view function: its signature (``name(types)``) and its return types."""

    signature: str
    returns: tuple[str, ...]

    @property
    def inputs(self) -> list[str]:
        inner = self.signature[self.signature.index("(") + 1 : -1]
        return split_types(inner)

    def calldata(self, args: tuple) -> str:
        selector = function_signature_to_4byte_selector(self.signature)
        return "0x" + (selector + encode(self.inputs, list(args))).hex()

    def decode(self, result: str) -> Any:
        values = decode(list(self.returns), bytes.fromhex(result[2:]))
        return values[0] if len(values) == 1 else values


# The views read, by contracts/interfaces: ICarbonCredit, IMirrorCredit, ICarbonRetirement (with ERC-721's
# balanceOf), ICompliancePeriods, ICreditFacility, IBilateralPledge, IHomeBridge.
TOTAL_SUPPLY = View("totalSupply(uint256)", ("uint256",))
TOTAL_ISSUED = View("totalIssued(uint256)", ("uint256",))
TOTAL_RETIRED = View("totalRetired(uint256)", ("uint256",))
TOTAL_CANCELLED = View("totalCancelled(uint256)", ("uint256",))
ISSUANCE_CAP = View("issuanceCap(uint256)", ("uint256",))
BALANCE_OF_BATCH = View("balanceOfBatch(address[],uint256[])", ("uint256[]",))
LOCKED = View("locked(uint256)", ("uint256",))
CERTIFICATE_COUNT = View("certificateCount()", ("uint256",))
CERTIFICATE = View(
    "certificate(uint256)", ("(address,address,uint256,uint256,uint16,uint8,uint40,uint40,uint40,bytes2)",)
)
ERC721_BALANCE = View("balanceOf(address)", ("uint256",))
PERIOD_COUNT = View("periodCount()", ("uint64",))
PERIOD = View("period(uint64)", ("(string,string,uint40,uint40,uint40,uint16,uint16,uint16)",))
STATUS = View("status(uint64,address)", ("(uint256,uint256,bool,bool,uint256)",))
POSITION_COUNT = View("positionCount()", ("uint256",))
POSITION = View("position(uint256)", ("(address,uint256,uint256,uint256,uint256[],uint256[])",))
TOTAL_SCALED_DEBT = View("totalScaledDebt()", ("uint256",))
BAD_DEBT = View("badDebt()", ("uint256",))
PLEDGE_COUNT = View("pledgeCount()", ("uint256",))
PLEDGE_OF = View("pledgeOf(uint256)", ("(address,address,uint256,uint256,uint8,uint256[],uint256[])",))


@dataclass
class Reconciliation:
    """What one reconciliation found: ``alerts`` (every mismatch), ``notes`` (what is not a mismatch but is
    worth saying: units in flight over a bridge), the block read per chain, and how many values of each kind
    were compared (so that a run that compared nothing is seen)."""

    alerts: list[Alert] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    blocks: dict[int, int] = field(default_factory=dict)
    compared: Counter = field(default_factory=Counter)


def reconcile_index(store: IndexStore, readers: Mapping[int, ChainReader]) -> Reconciliation:
    """The ledger of everything ``store`` holds, reconciled with each chain at the index's cursor of it."""
    sources = store.sources()
    blocks = {}
    for source in sources:
        cursor = store.cursor(source["chain_id"])
        if cursor is None:
            raise ReconcileError(f"{store.url}: chain {source['chain_id']} is not indexed yet: index it first")
        blocks[source["chain_id"]] = cursor.block_number
    return reconcile(Ledger.build(store.events(), sources), readers, sources, blocks)


def reconcile(
    ledger: Ledger,
    readers: Mapping[int, ChainReader],
    sources: Iterable[dict[str, Any]],
    blocks: Mapping[int, int],
) -> Reconciliation:
    """Reconcile ``ledger`` (built from the index's events up to ``blocks``, one block per chain) with the chains
    ``readers`` read (chain id -> reader); ``sources``: the index's ``sources()`` rows, which name the contracts.
    Every chain of ``sources`` must have a reader and a block."""
    run = _Run(ledger, readers, list(sources), blocks)
    run.all()
    return run.result


class _Run:
    def __init__(self, ledger: Ledger, readers: Mapping[int, ChainReader], sources: list[dict], blocks):
        self.ledger = ledger
        self.result = Reconciliation(blocks={s["chain_id"]: blocks.get(s["chain_id"]) for s in sources})
        self.readers = readers
        self.named: dict[int, dict[str, str]] = {}
        self.timestamps: dict[int, int] = {}
        for source in sources:
            chain = source["chain_id"]
            if chain not in readers:
                raise ReconcileError(f"chain {chain} is indexed but no node of it was given")
            if blocks.get(chain) is None:
                raise ReconcileError(f"chain {chain}: no block to read at (the index's cursor)")
            by_name: dict[str, str] = {}
            for address, name in source["contracts"].items():
                if name in by_name:
                    raise ReconcileError(f"chain {chain}: two {name} contracts ({by_name[name]}, {address})")
                by_name[name] = to_checksum_address(address)
            self.named[chain] = by_name
            block = readers[chain].block(blocks[chain])
            if block is None:
                raise ReconcileError(f"{readers[chain].where}: has no block {blocks[chain]} (another chain?)")
            self.timestamps[chain] = int(block["timestamp"], 16)

    # ---------------------------------------------------------------- plumbing

    def alert(self, rule: str, chain: int, key: str, message: str, /, **evidence: Any) -> None:
        evidence = {"block": self.result.blocks[chain], **evidence}
        self.result.alerts.append(
            Alert(rule, "critical", f"{rule}:{chain}:{key}", message, self.timestamps[chain], chain, evidence)
        )

    def read(self, chain: int, calls: list[tuple[str, View, tuple]]) -> list[Any]:
        """Each (address, view, args) read at the chain's pinned block: the decoded value, or ``CallFailed``."""
        if not calls:
            return []
        answers = self.readers[chain].calls(
            [(address, view.calldata(args)) for address, view, args in calls], self.result.blocks[chain]
        )
        out = []
        for (_, view, _), answer in zip(calls, answers, strict=True):
            if isinstance(answer, CallFailed):
                out.append(answer)
                continue
            try:
                out.append(view.decode(answer))
            except Exception as exc:  # noqa: BLE001 (an answer of another shape: the view is not this one)
                out.append(CallFailed(f"{view.signature}: undecodable answer {answer[:66]}: {exc}"))
        return out

    def compare(
        self, rule: str, chain: int, key: str, what: str, from_events: Any, on_chain: Any, **evidence: Any
    ) -> None:
        """One value (or a dict of fields) from the events against the chain's; an alert when they differ, naming
        the fields that do (the evidence keeps both whole)."""
        self.result.compared[rule] += 1
        if isinstance(on_chain, CallFailed):
            message = f"{what}: the view failed: {on_chain.message}"
            self.alert(rule, chain, key, message, events=from_events, on_chain=None, error=on_chain.message, **evidence)
            return
        if on_chain == from_events:
            return
        if isinstance(from_events, dict) and isinstance(on_chain, dict):
            differ = [k for k in from_events if from_events[k] != on_chain.get(k)]
            said = "; ".join(f"{k} {from_events[k]} from events, {on_chain.get(k)} on chain" for k in differ)
            evidence["fields"] = differ
        else:
            said = f"{from_events} from events, {on_chain} on chain"
        self.alert(rule, chain, key, f"{what}: {said}", events=from_events, on_chain=on_chain, **evidence)

    def all(self) -> None:
        for chain, names in self.named.items():
            if "CarbonCredit" in names:
                self.conservation(chain, home=True)
                self.supply(chain, names["CarbonCredit"], home=True)
            elif "MirrorCredit" in names:
                self.conservation(chain, home=False)
                self.supply(chain, names["MirrorCredit"], home=False)
            self.escrow(chain, names)
            if "CarbonRetirement" in names:
                self.certificates(chain, names["CarbonRetirement"])
            if "CompliancePeriods" in names:
                self.compliance(chain, names["CompliancePeriods"])
            if "CreditFacility" in names:
                self.facility(chain, names["CreditFacility"])
            if "BilateralPledge" in names:
                self.pledges(chain, names["BilateralPledge"])
        self.bridges()

    # ---------------------------------------------------------------- 1. conservation, events alone

    def ids(self, chain: int) -> list[int]:
        ids = {i for c, i in self.ledger.supply if c == chain}
        ids |= {i for c, i in self.ledger.batches if c == chain}
        return sorted(ids)

    def sums(self, chain: int) -> dict[int, int]:
        out: dict[int, int] = defaultdict(int)
        for (c, token_id, _), units in self.ledger.balances.items():
            if c == chain:
                out[token_id] += units
        return out

    def conservation(self, chain: int, home: bool) -> None:
        held = self.sums(chain)
        for (c, token_id, holder), units in sorted(self.ledger.balances.items()):
            if c == chain and units < 0:
                self.alert(
                    "conservation",
                    chain,
                    f"{token_id}:{holder}:negative",
                    f"{describe(token_id)}: {holder} holds {units} by the events",
                    id=token_id,
                    account=holder,
                    events=units,
                )
        for token_id in self.ids(chain):
            supply = self.ledger.supply.get((chain, token_id))
            if supply is None:
                continue
            numbers = dict(
                held=held.get(token_id, 0),
                issued=supply.issued,
                retired=supply.retired,
                cancelled=supply.cancelled,
                minted=supply.minted,
                burned=supply.burned,
                cap=supply.cap,
            )
            self.result.compared["conservation"] += 1
            net = supply.minted - supply.burned
            if home:
                equal = numbers["held"] == supply.circulating == net
                said = "balances, issued - retired - cancelled and minted - burned differ"
            else:
                equal = numbers["held"] == net
                said = "balances and minted - burned differ"
            if not equal:
                self.alert(
                    "conservation", chain, f"{token_id}:supply", f"{describe(token_id)}: {said}", id=token_id, **numbers
                )
            if home and supply.issued > (supply.cap or 0):
                self.alert(
                    "conservation",
                    chain,
                    f"{token_id}:cap",
                    f"{describe(token_id)}: {supply.issued} units issued, above the cap of {supply.cap or 0}",
                    id=token_id,
                    **numbers,
                )

    def escrow(self, chain: int, names: dict[str, str]) -> None:
        """The escrow holders' balances by the events against what their own events say they hold."""
        expected: dict[str, dict[int, int]] = {}
        if "CreditFacility" in names:
            collateral: dict[int, int] = defaultdict(int)
            for position in self.ledger.positions.values():
                for token_id, units in position.collateral.items():
                    collateral[token_id] += units
            expected[names["CreditFacility"]] = collateral
        if "BilateralPledge" in names:
            pledged: dict[int, int] = defaultdict(int)
            for pledge in self.ledger.pledges.values():
                if pledge.escrowed:
                    for token_id, units in zip(pledge.ids, pledge.amounts, strict=True):
                        pledged[token_id] += units
            expected[names["BilateralPledge"]] = pledged
        if "HomeBridge" in names:
            bridged: dict[int, int] = defaultdict(int)
            for (home, _, token_id), flow in self.ledger.bridge.items():
                if home == chain:
                    bridged[token_id] += flow.held_home
            expected[names["HomeBridge"]] = bridged
        for holder, by_id in expected.items():
            held = {i: u for (c, i, h), u in self.ledger.balances.items() if c == chain and h == holder}
            for token_id in sorted(set(by_id) | set(held)):
                self.result.compared["conservation"] += 1
                if by_id.get(token_id, 0) != held.get(token_id, 0):
                    name = self.ledger.names.get((chain, holder), holder)
                    self.alert(
                        "conservation",
                        chain,
                        f"{token_id}:{holder}:escrow",
                        f"{describe(token_id)}: {name} holds {held.get(token_id, 0)} by the transfers, "
                        f"{by_id.get(token_id, 0)} by its own events",
                        id=token_id,
                        account=holder,
                        transfers=held.get(token_id, 0),
                        escrow=by_id.get(token_id, 0),
                    )

    # ---------------------------------------------------------------- 2. supply and balances against the chain

    def supply(self, chain: int, token: str, home: bool) -> None:
        views = (
            [
                ("totalSupply", TOTAL_SUPPLY, lambda s: s.circulating),
                ("totalIssued", TOTAL_ISSUED, lambda s: s.issued),
                ("totalRetired", TOTAL_RETIRED, lambda s: s.retired),
                ("totalCancelled", TOTAL_CANCELLED, lambda s: s.cancelled),
                ("issuanceCap", ISSUANCE_CAP, lambda s: s.cap or 0),
            ]
            if home
            else [
                ("totalSupply", TOTAL_SUPPLY, lambda s: s.minted - s.burned),
                ("totalRetired", TOTAL_RETIRED, lambda s: s.retired),
            ]
        )
        ids = self.ids(chain)
        calls = [(token, view, (token_id,)) for token_id in ids for _, view, _ in views]
        answers = iter(self.read(chain, calls))
        for token_id in ids:
            supply = self.ledger.supply.get((chain, token_id))
            for name, _, of in views:
                value = of(supply) if supply is not None else 0
                self.compare(
                    "reconcile-supply",
                    chain,
                    f"{token_id}:{name}",
                    f"{describe(token_id)}: {name}",
                    value,
                    next(answers),
                    id=token_id,
                    view=name,
                )
        pairs = sorted((h, i) for (c, i, h) in self.ledger.balances if c == chain and h != ZERO)
        for start in range(0, len(pairs), BALANCE_CHUNK):
            chunk = pairs[start : start + BALANCE_CHUNK]
            [answer] = self.read(chain, [(token, BALANCE_OF_BATCH, ([h for h, _ in chunk], [i for _, i in chunk]))])
            for n, (holder, token_id) in enumerate(chunk):
                on_chain = answer if isinstance(answer, CallFailed) else answer[n]
                self.compare(
                    "reconcile-balance",
                    chain,
                    f"{token_id}:{holder}",
                    f"{describe(token_id)}: {holder}",
                    self.ledger.balances[(chain, token_id, holder)],
                    on_chain,
                    id=token_id,
                    account=holder,
                )

    # ---------------------------------------------------------------- 3. certificates and beneficiaries

    def certificates(self, chain: int, retirement: str) -> None:
        mine = sorted((k[1], c) for k, c in self.ledger.certificates.items() if k[0] == chain)
        beneficiaries = sorted({c.beneficiary for _, c in mine})
        calls = [(retirement, CERTIFICATE_COUNT, ())]
        calls += [(retirement, CERTIFICATE, (number,)) for number, _ in mine]
        calls += [(retirement, ERC721_BALANCE, (b,)) for b in beneficiaries]
        answers = self.read(chain, calls)
        self.compare("reconcile-certificate", chain, "count", "certificateCount", len(mine), answers[0])
        totals: dict[str, int | CallFailed] = defaultdict(int)
        for (number, cert), view in zip(mine, answers[1 : 1 + len(mine)], strict=True):
            expected = dict(
                beneficiary=cert.beneficiary,
                retiringAccount=cert.retiring_account,
                firstId=cert.ids[0] if cert.ids else 0,
                totalAmount=cert.units,
                idCount=len(cert.ids),
                purpose=cert.purpose,
                timestamp=cert.where.timestamp,
                periodStart=cert.period_start,
                periodEnd=cert.period_end,
                country=cert.jurisdiction[:2],
            )
            on_chain = view
            if not isinstance(view, CallFailed):
                fields = dict(zip(expected, view, strict=True))
                fields["beneficiary"] = to_checksum_address(view[0])
                fields["retiringAccount"] = to_checksum_address(view[1])
                fields["country"] = view[9].decode("ascii", "replace")
                on_chain = fields
            self.compare(
                "reconcile-certificate",
                chain,
                str(number),
                f"certificate {number}",
                expected,
                on_chain,
                certificate=number,
                account=cert.beneficiary,
                tx=cert.where.tx_hash,
            )
            if isinstance(view, CallFailed) or isinstance(totals[cert.beneficiary], CallFailed):
                totals[cert.beneficiary] = view if isinstance(view, CallFailed) else totals[cert.beneficiary]
            else:
                totals[cert.beneficiary] += view[3]
        counts = Counter(c.beneficiary for _, c in mine)
        units = Counter()
        for _, cert in mine:
            units[cert.beneficiary] += cert.units
        for beneficiary, held in zip(beneficiaries, answers[1 + len(mine) :], strict=True):
            self.compare(
                "reconcile-beneficiary",
                chain,
                f"{beneficiary}:certificates",
                f"{beneficiary}: certificates held",
                counts[beneficiary],
                held,
                account=beneficiary,
            )
            self.compare(
                "reconcile-beneficiary",
                chain,
                f"{beneficiary}:units",
                f"{beneficiary}: units retired",
                units[beneficiary],
                totals[beneficiary],
                account=beneficiary,
            )

    # ---------------------------------------------------------------- 4. compliance periods

    def compliance(self, chain: int, periods: str) -> None:
        surrendered = self.ledger.surrendered()
        numbers = sorted(self.ledger.periods)
        entities = sorted(set(self.ledger.obligations) | set(surrendered))
        calls = [(periods, PERIOD_COUNT, ())] + [(periods, PERIOD, (n,)) for n in numbers]
        calls += [(periods, STATUS, (p, e)) for p, e in entities]
        answers = self.read(chain, calls)
        self.compare("reconcile-compliance", chain, "count", "periodCount", len(numbers), answers[0])
        for number, view in zip(numbers, answers[1 : 1 + len(numbers)], strict=True):
            p = self.ledger.periods[number]
            names = ("name", "jurisdiction", "periodStart", "periodEnd", "deadline")
            terms = dict(zip(names, (p.name, p.jurisdiction, p.start, p.end, p.deadline), strict=True))
            on_chain = view if isinstance(view, CallFailed) else dict(zip(names, view[:5], strict=True))
            self.compare(
                "reconcile-compliance",
                chain,
                f"{number}:terms",
                f"period {number}: terms",
                terms,
                on_chain,
                period=number,
            )
        now = self.timestamps[chain]
        for (number, entity), view in zip(entities, answers[1 + len(numbers) :], strict=True):
            obligation = self.ledger.obligations.get((number, entity), 0)
            done = surrendered.get((number, entity), 0)
            period = self.ledger.periods.get(number)
            passed = period is not None and now > period.deadline
            expected = dict(
                obligation=obligation, surrendered=done, deadlinePassed=passed, compliant=done >= obligation
            )
            on_chain = view
            if not isinstance(view, CallFailed):
                on_chain = dict(obligation=view[0], surrendered=view[1], deadlinePassed=view[2], compliant=view[3])
            self.compare(
                "reconcile-compliance",
                chain,
                f"{number}:{entity}",
                f"period {number}: {entity}",
                expected,
                on_chain,
                period=number,
                account=entity,
            )

    # ---------------------------------------------------------------- 5. facility positions and pledges

    def facility(self, chain: int, facility: str) -> None:
        numbers = sorted(self.ledger.positions)
        calls = [(facility, POSITION_COUNT, ()), (facility, TOTAL_SCALED_DEBT, ()), (facility, BAD_DEBT, ())]
        calls += [(facility, POSITION, (n,)) for n in numbers]
        answers = self.read(chain, calls)
        self.compare("reconcile-position", chain, "count", "positionCount", len(numbers), answers[0])
        total = sum(p.scaled_debt for p in self.ledger.positions.values())
        self.compare("reconcile-position", chain, "totalScaledDebt", "totalScaledDebt", total, answers[1])
        self.compare("reconcile-position", chain, "badDebt", "badDebt", self.ledger.bad_debt, answers[2])
        for number, view in zip(numbers, answers[3:], strict=True):
            p = self.ledger.positions[number]
            collateral = {i: u for i, u in sorted(p.collateral.items()) if u}
            expected = dict(owner=p.owner, maturity=p.maturity, scaledDebt=p.scaled_debt, collateral=collateral)
            on_chain = view
            if not isinstance(view, CallFailed):
                on_chain = dict(
                    owner=to_checksum_address(view[0]),
                    maturity=view[1],
                    scaledDebt=view[2],
                    collateral={i: u for i, u in sorted(zip(view[4], view[5], strict=True)) if u},
                )
            self.compare(
                "reconcile-position",
                chain,
                str(number),
                f"position {number}",
                expected,
                on_chain,
                position=number,
                account=p.owner,
            )

    def pledges(self, chain: int, pledge_contract: str) -> None:
        numbers = sorted(self.ledger.pledges)
        calls = [(pledge_contract, PLEDGE_COUNT, ())] + [(pledge_contract, PLEDGE_OF, (n,)) for n in numbers]
        answers = self.read(chain, calls)
        self.compare("reconcile-pledge", chain, "count", "pledgeCount", len(numbers), answers[0])
        for number, view in zip(numbers, answers[1:], strict=True):
            p = self.ledger.pledges[number]
            names = ("pledgor", "pledgee", "maturity", "claimDeadline", "status", "ids", "amounts")
            stored = (p.pledgor, p.pledgee, p.maturity, p.claim_deadline, p.state, p.ids, p.amounts)
            expected = dict(zip(names, stored, strict=True))
            on_chain = view
            if not isinstance(view, CallFailed):
                pledgor, pledgee, maturity, deadline, status, ids, amounts = view
                read = (pledgor, pledgee, maturity, deadline, PLEDGE_STATUS.get(status, str(status)), ids, amounts)
                on_chain = dict(zip(names, read, strict=True))
                on_chain.update(pledgor=to_checksum_address(pledgor), pledgee=to_checksum_address(pledgee))
                on_chain.update(ids=list(ids), amounts=list(amounts))
            self.compare(
                "reconcile-pledge",
                chain,
                str(number),
                f"pledge {number}",
                expected,
                on_chain,
                pledge=number,
                account=p.pledgor,
            )

    # ---------------------------------------------------------------- 6. bridges

    def bridges(self) -> None:
        by_pair: dict[tuple[int, int], list[int]] = defaultdict(list)
        for home, remote, token_id in self.ledger.bridge:
            by_pair[(home, remote)].append(token_id)
        for (home, remote), ids in sorted(by_pair.items()):
            home_bridge = self.named.get(home, {}).get("HomeBridge")
            if home_bridge is None:
                continue
            ids = sorted(ids)
            locked = self.read(home, [(home_bridge, LOCKED, (i,)) for i in ids])
            for token_id, on_chain in zip(ids, locked, strict=True):
                flow = self.ledger.bridge[(home, remote, token_id)]
                self.compare(
                    "reconcile-supply",
                    home,
                    f"{token_id}:locked",
                    f"{describe(token_id)}: locked",
                    flow.held_home,
                    on_chain,
                    id=token_id,
                    view="locked",
                )
            mirror = self.named.get(remote, {}).get("MirrorCredit")
            if mirror is None:
                self.result.notes.append(f"bridge {home} -> {remote}: the remote chain is not indexed; not compared")
                continue
            remote_reads = self.read(remote, [(mirror, v, (i,)) for i in ids for v in (TOTAL_SUPPLY, TOTAL_RETIRED)])
            for n, token_id in enumerate(ids):
                flow = self.ledger.bridge[(home, remote, token_id)]
                supply, retired = remote_reads[2 * n], remote_reads[2 * n + 1]
                held = locked[n]
                self.result.compared["reconcile-bridge"] += 1
                failed = next((r for r in (held, supply, retired) if isinstance(r, CallFailed)), None)
                evidence = dict(
                    id=token_id,
                    locked=None if failed else held,
                    remote_supply=supply,
                    remote_retired=retired,
                    in_flight=flow.in_flight,
                    remote_chain=remote,
                )
                if failed is not None:
                    self.alert(
                        "reconcile-bridge",
                        home,
                        f"{token_id}:{remote}",
                        f"{describe(token_id)}: a bridge view failed: {failed.message}",
                        **dict(evidence, remote_supply=None, remote_retired=None),
                    )
                elif held != supply + retired + flow.in_flight:
                    self.alert(
                        "reconcile-bridge",
                        home,
                        f"{token_id}:{remote}",
                        f"{describe(token_id)}: {held} locked at home, {supply} held and {retired} retired on "
                        f"chain {remote}, {flow.in_flight} in flight",
                        **evidence,
                    )
                if flow.in_flight:
                    self.result.notes.append(
                        f"bridge {home} -> {remote}: {describe(token_id)}: {flow.in_flight} units in flight "
                        f"(sent, not yet delivered, at blocks {self.result.blocks[home]} and "
                        f"{self.result.blocks[remote]})"
                    )
