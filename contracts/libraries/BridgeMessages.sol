// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title BridgeMessages
/// @notice The payloads of bridge messages. Every payload starts with its `uint8 kind` in the first word.
/// - `LOCK` (home -> remote): `abi.encode(kind, id, amount, from, to, metadata, ruleSeq, tokenRules, toRules)`,
///   with the batch metadata (ABI-encoded `IMirrorCredit.BatchMetadata`) in every message, so that messages can
///   be delivered in any order, and the home rules of the token and of the recipient at the time of the lock.
/// - `BURN` (remote -> home): `abi.encode(kind, id, amount, from, to, "")`.
/// - `RULES` (home -> remote): `abi.encode(kind, ruleSeq, uint256[] keys, uint8[] flags)`: the home rules of
///   each key (see `tokenKey`, `accountKey`, `projectKey`) as read on the home chain under sequence `ruleSeq`.
/// - `RETURN` (either way): `abi.encode(kind, id, amount, from, to, abi.encode(returnedMessageId))`: a LOCK or
///   BURN whose recipient `from` refused the credits goes back to `to`, the transfer's sender.
library BridgeMessages {
    /// @notice Credits were locked at home; the remote bridge mints them.
    uint8 internal constant LOCK = 1;
    /// @notice Credits were burned on the remote chain; the home bridge releases them.
    uint8 internal constant BURN = 2;
    /// @notice The home chain's rules (pause, permissioned mode, accounts, projects) for the mirror.
    uint8 internal constant RULES = 3;
    /// @notice A transfer's recipient refused the credits; the source bridge gives them back to the sender.
    uint8 internal constant RETURN = 4;

    /// @notice Rule scopes, in the top byte of a rule key.
    uint8 internal constant SCOPE_TOKEN = 0;
    uint8 internal constant SCOPE_ACCOUNT = 1;
    uint8 internal constant SCOPE_PROJECT = 2;

    /// @notice Flags of the token key.
    uint8 internal constant TOKEN_PAUSED = 1;
    uint8 internal constant TOKEN_PERMISSIONED = 2;
    /// @notice Flags of an account key.
    uint8 internal constant ACCOUNT_ALLOWED = 1;
    uint8 internal constant ACCOUNT_FROZEN = 2;
    /// @notice Flag of a project key (Suspended or Terminated at home).
    uint8 internal constant PROJECT_RESTRICTED = 1;

    /// @notice The key of the token-wide rules.
    function tokenKey() internal pure returns (uint256) {
        return uint256(SCOPE_TOKEN) << 248;
    }

    /// @notice The key of `account`'s rules.
    function accountKey(address account) internal pure returns (uint256) {
        return (uint256(SCOPE_ACCOUNT) << 248) | uint256(uint160(account));
    }

    /// @notice The key of project `projectId`'s rules.
    function projectKey(uint64 projectId) internal pure returns (uint256) {
        return (uint256(SCOPE_PROJECT) << 248) | uint256(projectId);
    }

    /// @notice The kind of a payload (its first word).
    function kindOf(bytes calldata payload) internal pure returns (uint8) {
        return abi.decode(payload[:32], (uint8));
    }

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

    /// @notice The rule fields a lock carries after the transfer fields.
    function decodeLockRules(bytes calldata payload)
        internal
        pure
        returns (uint64 ruleSeq, uint8 tokenRules, uint8 toRules)
    {
        (,,,,,, ruleSeq, tokenRules, toRules) =
            abi.decode(payload, (uint8, uint256, uint256, address, address, bytes, uint64, uint8, uint8));
    }

    /// @notice The payload of a lock.
    function encodeLock(
        uint256 id,
        uint256 amount,
        address from,
        address to,
        bytes memory metadata,
        uint64 ruleSeq,
        uint8 tokenRules,
        uint8 toRules
    ) internal pure returns (bytes memory) {
        return abi.encode(LOCK, id, amount, from, to, metadata, ruleSeq, tokenRules, toRules);
    }

    /// @notice The payload of a return of transfer `returnedMessageId`, refused by `from`, to its sender `to`.
    function encodeReturn(uint256 id, uint256 amount, address from, address to, bytes32 returnedMessageId)
        internal
        pure
        returns (bytes memory)
    {
        return abi.encode(RETURN, id, amount, from, to, abi.encode(returnedMessageId));
    }

    /// @notice The fields of a return payload that the receiving bridge needs.
    function decodeReturn(bytes calldata payload)
        internal
        pure
        returns (uint256 id, uint256 amount, address to, bytes32 returnedMessageId)
    {
        bytes memory data;
        (, id, amount,, to, data) = abi.decode(payload, (uint8, uint256, uint256, address, address, bytes));
        returnedMessageId = abi.decode(data, (bytes32));
    }

    /// @notice The payload of a rules message.
    function encodeRules(uint64 ruleSeq, uint256[] memory keys, uint8[] memory flags)
        internal
        pure
        returns (bytes memory)
    {
        return abi.encode(RULES, ruleSeq, keys, flags);
    }

    /// @notice The fields of a rules payload.
    function decodeRules(bytes calldata payload)
        internal
        pure
        returns (uint64 ruleSeq, uint256[] memory keys, uint8[] memory flags)
    {
        (, ruleSeq, keys, flags) = abi.decode(payload, (uint8, uint64, uint256[], uint8[]));
    }
}
