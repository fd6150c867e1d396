"""Gas of the exchange's operations and of the floor of a trade, measured in the same run (the gas pins; the
bench rows will call it too).

The floor is the sum of a trade's parts in one transaction on plain contracts (contracts/test/BaselineSettlement:
one OpenZeppelin ERC-1155 transfer, the ERC-20 transfers of the payment and the fee, one fresh storage slot),
with the same calldata-free shape: nothing a trade can skip. Every figure, floor and exchange alike, is taken in
the steady state of a live market: seller, buyer and fee recipient already hold balances of the id and of the
payment token, and the order is fresh (its filled slot is written from zero).
"""

from __future__ import annotations

from typing import Any

from tonne.market.orders import BUY, ORDER_TYPE, SELL, Domain, Order, sign_order, standard_hash
from tonne.registry.suite import deploy_suite

ZERO_REF = b"\x00" * 32
UNITS = 1000
PRICE = 12_345  # payment units per kg
FEE_BPS = 100
FAR = 4_102_444_799
TARGETS = {
    # name: (numerator, denominator, maximum ratio), from the market issue
    "single fill vs the floor of a trade": ("fill sell, with fee", "floor: trade with fee", 1.15),
    "fillMany of 10 vs ten single fills": ("fillMany 10", "10 x fill sell, with fee", 0.85),
}


def retirement_input(beneficiary: str) -> dict[str, Any]:
    return dict(
        beneficiary=beneficiary,
        beneficiaryName="Acme GmbH",
        reason="Scope 1 emissions FY2025",
        jurisdiction="DE",
        periodStart=1735689600,
        periodEnd=1767225599,
        retirementRef=ZERO_REF,
    )


def ratios(gas: dict[str, int]) -> dict[str, dict[str, Any]]:
    out = {}
    for name, (num, den, limit) in TARGETS.items():
        ratio = gas[num] / gas[den]
        out[name] = {"ratio": round(ratio, 4), "target": limit, "met": ratio <= limit}
    return out


def measure_market_gas(project: Any, chain: Any, accounts: list[Any], *, constancy_fills: int = 0) -> dict[str, int]:
    """Deploy a suite, the exchange and the baselines, run each operation once, and return name -> gas used.
    With `constancy_fills`, also "fill sell, after N fills": the same single fill after that many other fills."""
    admin, registrar, verifier, issuer, _, _, seller, buyer, fee_recipient, matcher = accounts[:10]
    gas: dict[str, int] = {}

    def record(name: str, receipt: Any) -> Any:
        gas[name] = int(receipt.gas_used)
        return receipt

    roles = {"REGISTRAR_ROLE": [registrar], "VERIFIER_ROLE": [verifier], "ISSUER_ROLE": [issuer]}
    suite = deploy_suite(project, admin, permissioned=False, roles=roles)
    credit, registry = suite.credit, suite.registry
    exchange = project.CreditExchange.deploy(suite.retirement, 0, admin, sender=admin)
    usd = project.TestStablecoin.deploy(sender=admin)
    domain = Domain(chain.chain_id, exchange.address)

    from tonne.bench.gas import _batch, _register

    project_id = _register(None, registry, registrar, issuer, seller, "market")
    token_id = registry.addBatch(project_id, _batch(1, 100_000, "M-1"), 0, sender=registrar).return_value
    registry.verifyBatch(token_id, sender=verifier)
    credit.issue(token_id, seller, 50_000_000, ZERO_REF, sender=issuer)
    credit.issue(token_id, buyer, 1, ZERO_REF, sender=issuer)  # warm: the buyer already holds the id
    for account in (seller, buyer, fee_recipient):
        usd.mint(account, 10**15 if account == buyer else 1, sender=admin)
    for account in (seller, buyer):
        usd.approve(exchange, 2**256 - 1, sender=account)
        credit.setApprovalForAll(exchange, True, sender=account)
    nonces = iter(range(1, 10**9))

    def order(maker: Any, side: int = SELL, **fields: Any) -> Order:
        fields.setdefault("token_id", token_id)
        return Order(maker=maker.address, side=side, amount=10 * UNITS, price_per_unit=PRICE,
                     payment_token=usd.address, expiry=FAR, nonce=next(nonces), **fields)  # fmt: skip

    def fill(o: Order, sender: Any, units: int = UNITS, id_: int = token_id) -> Any:
        key = seller if o.maker == seller.address else buyer
        return exchange.fill(o.as_struct(), sign_order(o, domain, key), units, id_, sender=sender)

    fill(order(seller), buyer)  # warm-up: the first trade of the market
    record("fill sell, no fee", fill(order(seller), buyer))
    exchange.setFee(FEE_BPS, fee_recipient, sender=admin)
    record("fill sell, with fee", fill(order(seller), buyer))
    record("fill sell, with fee, partial (2nd fill of an order)", _second_fill(order(seller), fill, buyer))
    criteria = dict(token_id=0, standard_hash=standard_hash("VCS"), vintage_from=2021)
    record("fill buy with criteria (standard, vintage)", fill(order(buyer, BUY, **criteria), seller))
    record(
        "fill buy with criteria (standard, vintage, country)",
        fill(order(buyer, BUY, **criteria, country=b"BR"), seller),
    )
    sell, buy = order(seller, listed_at=1), order(buyer, BUY, listed_at=2)
    record(
        "matchOrders",
        exchange.matchOrders(
            sell.as_struct(),
            sign_order(sell, domain, seller),
            buy.as_struct(),
            sign_order(buy, domain, buyer),
            UNITS,
            token_id,
            sender=matcher,
        ),  # fmt: skip
    )
    suite.retirement.retire([token_id], [1], retirement_input(buyer.address), sender=buyer)  # certificate ids warm
    retire = order(seller)
    record(
        "fillAndRetire",
        exchange.fillAndRetire(
            retire.as_struct(), sign_order(retire, domain, seller), UNITS, retirement_input(buyer.address), sender=buyer
        ),  # fmt: skip
    )
    for n in (1, 10, 50):
        orders = [order(seller) for _ in range(n)]
        fills = [(o.as_tuple(), sign_order(o, domain, seller), UNITS, token_id) for o in orders]
        record(f"fillMany {n}", exchange.fillMany(fills, sender=buyer))
    gas["10 x fill sell, with fee"] = 10 * gas["fill sell, with fee"]

    # --- the floor: the same parts on plain contracts, in one transaction ------------------------------------
    oz = project.BaselineERC1155.deploy(sender=admin)
    plain_usd = project.TestStablecoin.deploy(sender=admin)
    floor = project.BaselineSettlement.deploy(sender=admin)
    oz.mint(seller, 1, 50_000_000, sender=admin)
    oz.mint(buyer, 1, 1, sender=admin)
    for account in (seller, buyer, fee_recipient):
        plain_usd.mint(account, 10**15 if account == buyer else 1, sender=admin)
    oz.setApprovalForAll(floor, True, sender=seller)
    plain_usd.approve(floor, 2**256 - 1, sender=buyer)
    cost = UNITS * PRICE
    fee = cost * FEE_BPS // 10_000
    keys = iter(range(1, 10**9))

    def settle(fee_amount: int) -> Any:
        key = next(keys).to_bytes(32, "big")
        return floor.settle(oz, plain_usd, seller, buyer, 1, UNITS, cost, fee_amount, fee_recipient, key,
                            sender=buyer)  # fmt: skip

    settle(fee)  # warm-up, as for the exchange
    record("floor: trade, no fee", settle(0))
    record("floor: trade with fee", settle(fee))

    if constancy_fills:
        gas[f"fill sell, after {constancy_fills} fills"] = _after_many_fills(
            project, chain, exchange, credit, usd, admin, issuer, seller, buyer, token_id, constancy_fills,
            lambda: int(fill(order(seller), buyer).gas_used),
        )  # fmt: skip
    return gas


def _second_fill(o: Order, fill: Any, buyer: Any) -> Any:
    fill(o, buyer)
    return fill(o, buyer)


def _after_many_fills(project, chain, exchange, credit, usd, admin, issuer, seller, buyer, token_id, count, measure):
    """`count` fills of distinct orders (each its own fresh filled slot) by an EIP-1271 wallet that approves every
    hash (so no signature need be made for them), 250 to a fillMany sent raw (eth_abi calldata, the node's own
    signing: ape's encoding of 10,000 structs would take minutes); then the measured single fill again."""
    from eth_abi import encode as abi_encode
    from eth_utils import function_signature_to_4byte_selector

    wallet = project.TestERC1271Wallet.deploy(admin.address, sender=admin)
    wallet.setApproveAll(True, sender=admin)
    credit.issue(token_id, wallet, count, ZERO_REF, sender=issuer)
    wallet.execute(credit, credit.setApprovalForAll.encode_input(exchange, True), sender=admin)
    order_type = "(" + ",".join(f["type"] for f in ORDER_TYPE) + ")"
    fill_type = f"({order_type},bytes,uint256,uint256)[]"
    selector = function_signature_to_4byte_selector(f"fillMany({fill_type})")
    web3 = chain.provider.web3
    done = 0
    while done < count:
        n = min(250, count - done)
        fills = [
            (Order(maker=wallet.address, side=SELL, token_id=token_id, amount=1, price_per_unit=1,
                   payment_token=usd.address, expiry=FAR, nonce=10**12 + done + i).as_tuple(), b"", 1, token_id)
            for i in range(n)
        ]  # fmt: skip
        data = selector + abi_encode([fill_type], [fills])
        tx = web3.eth.send_transaction({"from": buyer.address, "to": exchange.address, "data": data, "gas": 29_000_000})
        receipt = web3.eth.wait_for_transaction_receipt(tx)
        assert receipt["status"] == 1, f"fillMany of {n} constancy fills reverted"
        done += n
    return measure()
