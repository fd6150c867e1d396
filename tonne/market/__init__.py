"""The market: peer-to-peer trading of credits against an ERC-20 through signed EIP-712 orders, settled
delivery-versus-payment by the CreditExchange contract (see docs/market.md)."""
