// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @notice Test-only: a contract with no ERC-1155 receiver functions at all.
contract NonReceiver {
    /// @notice Something to call, so the contract is not empty.
    function ping() external pure returns (bool) {
        return true;
    }
}
