"""Supervision (issue 15): an event indexer of every Tonne contract, the market's state rebuilt from events and
reconciled with the chain, a regulator's rules over it, and reports people can read (docs/supervise.md)."""
