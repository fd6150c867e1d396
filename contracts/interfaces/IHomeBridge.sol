// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ICreditBridge} from "./ICreditBridge.sol";

/// @title IHomeBridge
/// @notice The home chain's credit bridge: it locks Tonne credits in escrow and sends a message to the remote
/// bridge, which mints their mirror; it releases credits only when the remote bridge says they were burned there.
/// @dev Invariant: per id, `locked(id)` = units escrowed by sends - units released, and a release never exceeds
/// it. The credit token's own rules apply to every send (pause, freeze, allowlist, Suspended or Terminated
/// projects, and the holder's balance: credits escrowed elsewhere, e.g. pledged, cannot be sent).
/// Warning: in permissioned mode the bridge must be on the token's allowlist, and a release to an account that
/// is not allowed (or frozen) reverts until it is.
interface IHomeBridge is ICreditBridge {
    /// @notice Releasing `requested` units of `id` would pass the `locked` units held for it.
    error HomeBridgeReleaseExceedsLocked(uint256 id, uint256 requested, uint256 locked);
    /// @notice Credits may enter escrow only through `send`; `operator` tried to deposit directly.
    error HomeBridgeUnsolicitedDeposit(address operator, address from);
    /// @notice In permissioned mode, the remote recipient `recipient` is not on the home allowlist.
    error HomeBridgeRecipientNotAllowed(address recipient);
    /// @notice The remote recipient `recipient` is frozen at home.
    error HomeBridgeRecipientFrozen(address recipient);
    /// @notice A sync with no rule key.
    error HomeBridgeNoRules();
    /// @notice A sync of `count` rule keys; at most `max` per message.
    error HomeBridgeTooManyRules(uint256 count, uint256 max);
    /// @notice Rule key `key` has state `flags`, the state last sent for it (or it is repeated in the call).
    error HomeBridgeRuleUnchanged(uint256 key, uint8 flags);
    /// @notice `key` is not a rule key (scope byte 0 token, 1 account, 2 project).
    error HomeBridgeUnknownRuleKey(uint256 key);

    /// @notice `from` locked `amount` units of `id` for `to` on the remote chain, in message `messageId`.
    event CreditsLocked(
        bytes32 indexed messageId, uint256 indexed id, address indexed from, address to, uint256 amount
    );
    /// @notice Message `messageId` (a burn of `amount` units of `id` by `from` on the remote chain) released them
    /// to `to`.
    event CreditsReleased(
        bytes32 indexed messageId, uint256 indexed id, address indexed to, address from, uint256 amount
    );

    /// @notice The home rules of `keys` (`flags`, one per key) were read under sequence `seq` and sent to the
    /// mirror in message `messageId`.
    event RulesSent(bytes32 indexed messageId, uint64 seq, uint256[] keys, uint8[] flags);

    /// @notice Locks `amount` units of `id` from the caller and sends them to `to` (an ERC-7930 EVM address on
    /// the linked remote chain). The caller must have approved this bridge as operator on the credit token.
    /// The recipient must not be frozen at home and, in permissioned mode, must be allowlisted at home; the
    /// message carries the token-wide rules and the recipient's, which the mirror records if newer.
    /// @return messageId The gateway's id of the message.
    function send(uint256 id, uint256 amount, bytes calldata to) external returns (bytes32 messageId);

    /// @notice Reads the home rules now in force (the token's pause and permissioned mode if `tokenWide`, each
    /// account's allowlist and freeze, each project's restriction) and sends them to the mirror in one attested
    /// message, under the next sequence number; the mirror applies each key only if newer than what it holds.
    /// Anyone may call: it only carries on-chain truth. Refused: nothing to sync (`HomeBridgeNoRules`), more than
    /// `MAX_RULES` keys, and a key whose state equals the last one sent (`HomeBridgeRuleUnchanged`).
    /// @return messageId The gateway's id of the message.
    function syncRules(bool tokenWide, address[] calldata accounts, uint64[] calldata projects)
        external
        returns (bytes32 messageId);

    /// @notice The home rules of rule key `key` now (flags as in `BridgeMessages`).
    function rulesOf(uint256 key) external view returns (uint8 flags);

    /// @notice Whether a state of `key` was sent (by a sync or a lock), and the last one.
    function sentRulesOf(uint256 key) external view returns (bool sent, uint8 flags);

    /// @notice Whether the last state sent for `key` is its state now (a sync of it would be refused).
    function inSync(uint256 key) external view returns (bool);

    /// @notice The last rule sequence number used (by a sync or a lock).
    function ruleSeq() external view returns (uint64);

    /// @notice The credit token this bridge escrows.
    function token() external view returns (address);

    /// @notice Units of `id` held in escrow for the remote chain.
    function locked(uint256 id) external view returns (uint256);
}
