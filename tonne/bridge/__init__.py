"""The credit bridge's Python side: message codec and attestation signing (messages), deployment on two chains
(deploy), validators (attest), the relayer (relay) and the cross-chain audit (audit)."""
