"""The order book service: an HTTP JSON API (``api``) over a SQL store (``store``: SQLite by default, PostgreSQL by
URL) of signed orders, kept current by a follower (``follow``) of the exchange's events through one small chain
interface (``chain.ExchangeView``).

Layout: ``schema`` (orders from JSON, with per-field errors), ``_order`` (the EIP-712 Order: a stand-in until
``tonne.market.orders`` lands, then a re-export of it), ``store``, ``chain``, ``follow``, ``api`` (``serve``).
"""
