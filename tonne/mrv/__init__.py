"""MRV: signed meter readings turned into verified registry batches by the CarbonMRV contract (see docs/mrv.md)."""
