// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ICreditBridge} from "./ICreditBridge.sol";

/// @title IRemoteBridge
/// @notice The remote chain's credit bridge: it mints mirror credits when the home bridge locked credits, and
/// burns them to send them home. Bridged credits go back only to the chain and bridge they came from.
/// @dev It links once, and only to the mirror's origin chain.
interface IRemoteBridge is ICreditBridge {
    /// @notice `from` burned `amount` units of `id` here, to be released to `to` on the home chain, in message
    /// `messageId`.
    event CreditsBurned(
        bytes32 indexed messageId, uint256 indexed id, address indexed from, address to, uint256 amount
    );
    /// @notice Message `messageId` (a lock of `amount` units of `id` by `from` at home) minted them to `to`.
    event CreditsMinted(
        bytes32 indexed messageId, uint256 indexed id, address indexed to, address from, uint256 amount
    );

    /// @notice Message `messageId` carried `count` home rules read under sequence `seq`, handed to the mirror.
    event RulesReceived(bytes32 indexed messageId, uint64 seq, uint256 count);

    /// @notice Burns `amount` units of `id` from the caller and sends them home to `to` (an ERC-7930 EVM
    /// address on the origin chain).
    /// @return messageId The gateway's id of the message.
    function send(uint256 id, uint256 amount, bytes calldata to) external returns (bytes32 messageId);

    /// @notice The mirror credit token this bridge mints and burns.
    function mirror() external view returns (address);
}
