// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title ExactGasCall
/// @notice A call that gets exactly the gas its caller names, and a bounded copy of what a refusal returned.
/// @dev A CALL forwards at most all but 1/64 of the gas left (EIP-150). A caller that must not let its own shortfall
/// pass for the callee's refusal checks `gasleft() >= gasNeeded(gasToGive, reserve)` right before `callExact`,
/// reverting with its own error otherwise: the callee then gets `gasToGive` in full, and `reserve` is left to the
/// caller for the call's own cost and what follows it. A refusal's return data is copied up to `MAX_REASON` bytes,
/// so a callee reverting with a huge reason cannot make its caller pay for the copy.
library ExactGasCall {
    /// @dev Bytes of a refusal's return data that `callExact` copies (the gateway's batch reports and the bridges'
    /// `TransferReturned` keep the same bound).
    uint256 internal constant MAX_REASON = 356;

    /// @dev The gas to have left right before `callExact(_, gasToGive, ...)` for the call to get `gasToGive` in full
    /// with `reserve` still left (the reserve covers the call itself: at most 2,600 for a cold account, plus memory).
    function gasNeeded(uint256 gasToGive, uint256 reserve) internal pure returns (uint256) {
        return gasToGive + gasToGive / 63 + reserve;
    }

    /// @dev Calls `target` with `data`, no value and `gasToGive` gas; returns whether the call succeeded and, if it
    /// did not, the first `MAX_REASON` bytes of its return data (empty on success and for a revert without data).
    function callExact(address target, uint256 gasToGive, bytes memory data)
        internal
        returns (bool ok, bytes memory reason)
    {
        uint256 size;
        assembly ("memory-safe") {
            ok := call(gasToGive, target, 0, add(data, 0x20), mload(data), 0, 0)
            size := returndatasize()
        }
        if (ok) return (true, reason);
        if (size > MAX_REASON) size = MAX_REASON;
        reason = new bytes(size);
        assembly ("memory-safe") {
            returndatacopy(add(reason, 0x20), 0, size)
        }
    }
}
