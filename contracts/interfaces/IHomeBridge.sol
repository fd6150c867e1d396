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

    /// @notice `from` locked `amount` units of `id` for `to` on the remote chain, in message `messageId`.
    event CreditsLocked(
        bytes32 indexed messageId, uint256 indexed id, address indexed from, address to, uint256 amount
    );
    /// @notice Message `messageId` (a burn of `amount` units of `id` by `from` on the remote chain) released them
    /// to `to`.
    event CreditsReleased(
        bytes32 indexed messageId, uint256 indexed id, address indexed to, address from, uint256 amount
    );

    /// @notice Locks `amount` units of `id` from the caller and sends them to `to` (an ERC-7930 EVM address on
    /// the linked remote chain). The caller must have approved this bridge as operator on the credit token.
    /// @return messageId The gateway's id of the message.
    function send(uint256 id, uint256 amount, bytes calldata to) external returns (bytes32 messageId);

    /// @notice The credit token this bridge escrows.
    function token() external view returns (address);

    /// @notice Units of `id` held in escrow for the remote chain.
    function locked(uint256 id) external view returns (uint256);
}
