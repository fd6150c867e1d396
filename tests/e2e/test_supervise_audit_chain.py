"""Outside audit of the supervision module (audit/supervise-outside-audit.md): the proofs of concept that need a real
chain. Each test asserts the secure behaviour; a confirmed weakness is marked ``xfail(strict=True)`` with its
finding id, so the file stays green and the test turns XPASS (a failure) when the weakness is fixed.

Real Anvil, the real suite deployed by ``ape run deploy --dev-roles``, the real indexer and the real ``supervise``
commands. A node that lies (SUPERVISE-AUDIT-7) is the real Anvil behind a provider that alters what it returns:
the node is the input under test, not the indexer.
"""

from __future__ import annotations

import random

import pytest
from eth_abi import encode
from eth_utils import function_signature_to_4byte_selector, keccak, to_checksum_address
from web3 import Web3

from e2e_support import Anvil, Deployment, deploy, offline, stocked
from tonne.core.localchain import plain_anvil
from tonne.supervise.catalog import catalogs_of_file, merged
from tonne.supervise.index import ChainReader, Indexer, RpcError
from tonne.supervise.store import IndexStore

DAY = 86_400
ZERO_REF = b"\x00" * 32


@pytest.fixture(scope="module")
def chain(tmp_path_factory) -> Deployment:
    with plain_anvil() as (url, process):
        anvil = Anvil(process, url, Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 30})))
        d = deploy(anvil, tmp_path_factory.mktemp("deployments-sv-audit"))
        d.stock = stocked(d)
        yield d


def catalog(d: Deployment):
    return merged(catalogs_of_file(d.record, "record"))[d.w3.eth.chain_id]


def indexer(d: Deployment, url: str, provider=None) -> Indexer:
    ix = Indexer(IndexStore(url), ChainReader(provider or d.w3.provider, d.anvil.url), catalog(d))
    ix.bind()
    return ix


def head_time(d: Deployment) -> int:
    return d.w3.eth.get_block("latest")["timestamp"]


def fresh_address() -> str:
    return to_checksum_address(keccak(random.randbytes(32))[:20])


# ------------------------------------------------------------------------------------------------ SUPERVISE-AUDIT-1


def test_audit1_retirement_with_a_name_that_is_not_utf8__indexed_not_a_stuck_indexer(chain, tmp_path):
    """Any holder of one unit (0.001 t) retires it with a beneficiary name of raw bytes (the contract checks only
    that it is not empty). The indexer must store the event (the name decoded with replacement characters, or as
    hex) and go on; today every poll of that range raises, for ever, and ``watch``/``index`` stop there."""
    d = chain
    snapshot = d.anvil.rpc("evm_snapshot")
    try:
        token_id = d.stock[0][2]
        selector = function_signature_to_4byte_selector(
            "retire(uint256[],uint256[],(address,string,string,string,uint40,uint40,bytes32))"
        )
        # ``string`` and ``bytes`` share one ABI encoding: the name is sent as the bytes 0xff 0xfe.
        args = encode(
            ["uint256[]", "uint256[]", "(address,bytes,string,string,uint40,uint40,bytes32)"],
            [[token_id], [1], (d.admin, b"\xff\xfe", "dust", "DE", 0, 0, ZERO_REF)],
        )
        address = d.record["contracts"]["CarbonRetirement"]["address"]
        tx = d.w3.eth.send_transaction({"from": d.admin, "to": address, "data": "0x" + (selector + args).hex()})
        receipt = d.w3.eth.wait_for_transaction_receipt(tx)
        assert receipt["status"] == 1  # the contract accepts it

        ix = indexer(d, f"sqlite:///{tmp_path / 'utf8.sqlite'}")
        ix.catch_up()  # today: UnicodeDecodeError
        [stored] = [e for e in ix.store.events(names=["RetirementRecorded"]) if e.tx_hash == tx.to_0x_hex()]
        assert stored.args["amounts"] == [1]
    finally:
        d.anvil.rpc("evm_revert", [snapshot])


# ------------------------------------------------------------------------------------------------ SUPERVISE-AUDIT-2


def test_audit2_report__entity_past_its_deadline_on_a_quiet_chain__critical_as_watch_says(chain, tmp_path):
    d = chain
    env = {"TONNE_DEPLOYMENTS_DIR": str(d.directory)}
    deadline = head_time(d) + 2 * DAY
    d.transact(d.compliance.functions.openPeriod(("Quiet period", "DE", 1_735_689_600, deadline - DAY, deadline,
                                                  0, 0, [])))  # fmt: skip
    period_id = d.compliance.functions.periodCount().call()
    entity = fresh_address()
    d.transact(d.compliance.functions.setObligations(period_id, [entity], ["Never Surrenders Ltd"], [10_000]))
    # 40 days pass; the market is quiet: blocks, no Tonne event
    d.anvil.rpc("evm_increaseTime", [40 * DAY])
    d.anvil.rpc("evm_mine")
    assert d.compliance.functions.status(period_id, entity).call()[2]  # deadlinePassed, by the contract

    db = f"sqlite:///{tmp_path / 'quiet.sqlite'}"
    ix = indexer(d, db)
    ix.catch_up()
    assert ix.store.cursor(ix.chain_id).block_number == d.w3.eth.block_number  # the index has the late block
    key = f"obligation-short:{ix.chain_id}:{period_id}:{entity}:critical"

    watch = offline("supervise", "watch", "--rpc", d.anvil.url, "--db", db, "--once", "--json", env=env)
    assert key in watch.stdout, watch.stdout + watch.stderr  # watch: critical (the head's time)

    out = tmp_path / "quiet.html"
    result = offline("supervise", "report", "--db", db, "--out", str(out), env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert key in out.read_text(encoding="utf-8")  # today: absent (the last event is 40 days before the block)


# ------------------------------------------------------------------------------------------------ SUPERVISE-AUDIT-7


class LyingNode:
    """Anvil behind a provider that adds to each non-empty ``eth_getLogs`` answer one log the node was not asked
    for: ``foreign``: a copy of a real log under an address the query did not name; ``phantom``: a copy of a
    followed contract's log moved to a block above the range asked, with a hash no block has."""

    def __init__(self, inner, mode: str):
        self.inner = inner
        self.mode = mode

    def make_request(self, method, params):
        answer = self.inner.make_request(method, params)
        if method == "eth_getLogs" and answer.get("result"):
            fake = dict(answer["result"][0])
            if self.mode == "foreign":
                fake["address"] = "0x" + "ee" * 20
                fake["logIndex"] = hex(999)
            else:
                fake["blockNumber"] = hex(int(params[0]["toBlock"], 16) + 5)
                fake["blockHash"] = "0x" + "dd" * 32
            answer = dict(answer, result=[*answer["result"], fake])
        return answer


@pytest.mark.parametrize("mode", ["foreign", "phantom"])
def test_audit7_node_answers_logs_not_asked_for__refused_not_stored(chain, tmp_path, mode):
    d = chain
    ix = indexer(d, f"sqlite:///{tmp_path / f'{mode}.sqlite'}", LyingNode(d.w3.provider, mode))
    try:
        ix.catch_up()
    except RpcError:
        return  # refusing the answer is a fix
    followed = {a.lower() for a in ix.catalog.contracts}
    for event in ix.store.events():
        assert event.address.lower() in followed, f"stored a log of {event.address}, not followed"
        block = d.w3.provider.make_request("eth_getBlockByNumber", [hex(event.block_number), False])["result"]
        canonical = block["hash"].lower() if block else None
        assert event.block_hash == canonical, f"stored a log of block {event.block_number} not on the chain"


def test_defence_reorg_of_the_cursor_block__rolled_back(chain, tmp_path):
    """Sound: a reorganisation that replaces exactly the cursor's block (the newest checkpoint) is rolled back to the
    checkpoint before, and the new branch indexed; the index equals a fresh one."""
    d = chain
    ix = indexer(d, f"sqlite:///{tmp_path / 'reorg.sqlite'}")
    ix.catch_up()
    snapshot = d.anvil.rpc("evm_snapshot")
    token_id = d.stock[0][2]
    d.transact(d.credit.functions.safeTransferFrom(d.admin, fresh_address(), token_id, 7, b""))
    ix.catch_up()
    d.anvil.rpc("evm_revert", [snapshot])
    d.transact(d.credit.functions.safeTransferFrom(d.admin, fresh_address(), token_id, 9, b""))
    ix.catch_up()
    fresh = indexer(d, f"sqlite:///{tmp_path / 'reorg-fresh.sqlite'}")
    fresh.catch_up()
    assert ix.store.fingerprint() == fresh.store.fingerprint()
