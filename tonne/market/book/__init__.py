"""The order book service: an HTTP JSON API (``api``) over a SQL store (``store``: SQLite by default, PostgreSQL by
URL) of signed orders, kept current by a follower (``follow``) of the exchange's events through one small chain
interface (``chain.ExchangeView``).

Layout: ``schema`` (orders from JSON, with per-field errors), ``store``, ``chain``, ``follow``, ``api``
(``serve``). The Order, its hash and its signature are ``tonne.market.orders``'s, the one implementation.
"""
