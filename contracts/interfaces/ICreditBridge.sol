// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title ICreditBridge
/// @notice What the home and the remote credit bridges share: the one link to their counterpart on the other
/// chain, per-direction pause, and per-id rate limits over fixed time windows in each direction.
/// @dev A window is `block.timestamp / windowSeconds`; the units moved of an id in a window are kept in one slot
/// that resets itself when the window changes, so a limit check costs the same at any traffic and loops over
/// nothing. Outbound limits refuse a user's send up front; inbound limits cap what forged or runaway messages
/// could do per window (a delivery over the limit reverts and can be retried in a later window).
/// Bound: windows are fixed, not sliding, so sends astride a window boundary can pass up to twice an id's limit
/// within `windowSeconds`; no span of `windowSeconds` seconds passes more than twice the limit (it touches at
/// most two windows). Size limits for 2x.
/// Warning: the admin links the bridge once (a counterpart and gateway cannot be changed afterwards) and sets the
/// limits; the PAUSER can stop either direction. The linked gateway is trusted to deliver only messages that the
/// counterpart really sent: with Tonne's gateway, that trust lies with its M-of-N validators.
interface ICreditBridge {
    /// @notice Traffic direction as seen from this bridge.
    enum Direction {
        Outbound,
        Inbound
    }

    /// @notice The bridge is linked already, to its counterpart on chain `remoteChainId`.
    error BridgeAlreadyLinked(uint256 remoteChainId);
    /// @notice The bridge is not linked yet.
    error BridgeNotLinked();
    /// @notice `counterpart` is not an EVM address on another chain, or names a chain this bridge may not link to.
    error BridgeInvalidCounterpart(bytes counterpart);
    /// @notice The destination is on chain `chainId`; this bridge sends only to chain `expected`.
    error BridgeWrongDestinationChain(uint256 chainId, uint256 expected);
    /// @notice `to` is not an ERC-7930 EVM interoperable address with a non-zero address.
    error BridgeInvalidRecipient(bytes to);
    /// @notice `recipient` is the counterpart bridge: credits released or minted to it would be stuck there,
    /// outside the escrow ledger.
    error BridgeRecipientIsBridge(address recipient);
    /// @notice A transfer of zero units of `id`.
    error BridgeZeroAmount(uint256 id);
    /// @notice `direction` is paused.
    error BridgeDirectionPaused(Direction direction);
    /// @notice The pause of `direction` is already `paused`.
    error BridgePauseUnchanged(Direction direction, bool paused);
    /// @notice Moving `requested` units of `id` in `direction` passes this window's limit: `available` are left
    /// until the window ends at `windowEnds` (unix seconds).
    error BridgeRateLimited(Direction direction, uint256 id, uint256 requested, uint256 available, uint256 windowEnds);
    /// @notice A message of kind `kind` arrived where only kind `expected` is accepted.
    error BridgeUnexpectedMessage(uint8 kind, uint8 expected);
    /// @notice A window of `windowSeconds` seconds (zero) is not allowed.
    error BridgeInvalidWindow(uint256 windowSeconds);
    /// @notice Only `gasLeft` gas was left where the transfer to the recipient needs `gasNeeded` (its fixed
    /// RECIPIENT_GAS and what a return would take): the relayer's shortfall, so the delivery reverts and waits for a
    /// retry with more gas.
    error BridgeDeliveryGasTooLow(uint256 gasLeft, uint256 gasNeeded);

    /// @notice The bridge was linked, once, to `remoteBridge` on chain `remoteChainId` through `gateway`.
    event BridgeLinked(uint256 indexed remoteChainId, address remoteBridge, address gateway);
    /// @notice `direction` was paused by `account`.
    event DirectionPaused(Direction direction, address indexed account);
    /// @notice `direction` was resumed by `account`.
    event DirectionUnpaused(Direction direction, address indexed account);
    /// @notice The per-window limit of ids without their own limit, in `direction`, is now `limit` units.
    event DefaultLimitSet(Direction direction, uint256 limit);
    /// @notice Id `id` now has its own per-window limit of `limit` units in `direction` (or, when `custom` is
    /// false, follows the default again).
    event IdLimitSet(Direction direction, uint256 indexed id, uint256 limit, bool custom);
    /// @notice Transfer `returnedMessageId` could not be delivered: its recipient `from` was refused with `reason`
    /// (the revert data). Return message `messageId` carries its `amount` units of `id` back to `to`, its sender on
    /// the other chain.
    event TransferReturned(
        bytes32 indexed messageId,
        bytes32 indexed returnedMessageId,
        uint256 indexed id,
        address from,
        address to,
        uint256 amount,
        bytes reason
    );
    /// @notice Return message `messageId` gave `amount` units of `id` back to `to`, the sender of the undeliverable
    /// transfer `returnedMessageId`.
    event TransferRestored(
        bytes32 indexed messageId, bytes32 indexed returnedMessageId, uint256 indexed id, address to, uint256 amount
    );

    /// @notice Links the bridge to its counterpart `counterpart` (ERC-7930 EVM address on the other chain)
    /// through the ERC-7786 `gateway`. Once; only the admin.
    function link(address gateway, bytes calldata counterpart) external;

    /// @notice Stops `direction`. Only PAUSER.
    function pause(Direction direction) external;

    /// @notice Resumes `direction`. Only PAUSER.
    function unpause(Direction direction) external;

    /// @notice Sets the per-window limit, in units, of every id without its own limit, in `direction`. Only the
    /// admin.
    function setDefaultLimit(Direction direction, uint256 limit) external;

    /// @notice Gives `id` its own per-window limit in `direction` (`custom` true), or returns it to the default
    /// (`custom` false, `limit` ignored). Only the admin.
    function setIdLimit(Direction direction, uint256 id, uint256 limit, bool custom) external;

    /// @notice The chain of the counterpart (zero until linked).
    function remoteChainId() external view returns (uint256);

    /// @notice The counterpart bridge on `remoteChainId` (zero until linked).
    function remoteBridge() external view returns (address);

    /// @notice The gateway messages go through (zero until linked).
    function gateway() external view returns (address);

    /// @notice Whether `direction` is paused.
    function paused(Direction direction) external view returns (bool);

    /// @notice Length of a rate-limit window, in seconds.
    function windowSeconds() external view returns (uint256);

    /// @notice The per-window limit of `id` in `direction`, in units (up to twice this can pass astride a window
    /// boundary).
    function limitOf(Direction direction, uint256 id) external view returns (uint256);

    /// @notice Units of `id` that can still move in `direction` in the current window.
    function availableOf(Direction direction, uint256 id) external view returns (uint256);
}
