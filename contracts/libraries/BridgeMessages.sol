// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title BridgeMessages
/// @notice The payload of a credit bridge message: `abi.encode(kind, id, amount, from, to, metadata)`.
/// @dev `LOCK` goes home -> remote and carries the batch metadata (ABI-encoded `IMirrorCredit.BatchMetadata`) in
/// every message, so that messages can be delivered in any order; `BURN` goes remote -> home with empty metadata.
library BridgeMessages {
    /// @notice Credits were locked at home; the remote bridge mints them.
    uint8 internal constant LOCK = 1;
    /// @notice Credits were burned on the remote chain; the home bridge releases them.
    uint8 internal constant BURN = 2;

    /// @notice The payload of a message.
    function encode(uint8 kind, uint256 id, uint256 amount, address from, address to, bytes memory metadata)
        internal
        pure
        returns (bytes memory)
    {
        return abi.encode(kind, id, amount, from, to, metadata);
    }

    /// @notice The fields of a payload.
    function decode(bytes calldata payload)
        internal
        pure
        returns (uint8 kind, uint256 id, uint256 amount, address from, address to, bytes memory metadata)
    {
        return abi.decode(payload, (uint8, uint256, uint256, address, address, bytes));
    }
}
