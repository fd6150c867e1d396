// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @notice Test-only: lets a test contract act as an account (approve, transfer, bridge what it holds).
abstract contract TestAccount {
    /// @notice Calls `target` with `data` as this contract; a failing call reverts with its own revert data.
    /// @param target The contract to call.
    /// @param data The calldata.
    /// @return ret What the call returned.
    function execute(address target, bytes calldata data) external returns (bytes memory ret) {
        bool ok;
        (ok, ret) = target.call(data);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(ret, 32), mload(ret))
            }
        }
    }
}
