"""The market: peer-to-peer trading of credits, signed EIP-712 orders settled by the CreditExchange, and the order
book service that collects, checks and serves them (``tonne.market.book``)."""
