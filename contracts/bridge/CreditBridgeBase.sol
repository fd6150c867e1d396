// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AccessControlDefaultAdminRules} from
    "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {CrosschainLinked} from "@openzeppelin/contracts/crosschain/CrosschainLinked.sol";
import {InteroperableAddress} from "@openzeppelin/contracts/utils/draft-InteroperableAddress.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {ICreditBridge} from "../interfaces/ICreditBridge.sol";
import {BridgeMessages} from "../libraries/BridgeMessages.sol";
import {ExactGasCall} from "../libraries/ExactGasCall.sol";

/// @title CreditBridgeBase
/// @notice Link, pause and rate limits shared by the home and remote credit bridges.
/// @dev Built on OpenZeppelin's `CrosschainLinked`: it keeps the gateway and counterpart, sends through
/// `_sendMessageToCounterpart`, and its `receiveMessage` refuses any gateway or sender but the linked ones
/// (`ERC7786RecipientUnauthorizedGateway`). Replay protection is the gateway's (ERC-7786 leaves it there).
/// Exactly one link, made once after deployment (`link`): both bridges must exist before either can name the
/// other, and a link that could be changed later would let its changer take the escrow.
abstract contract CreditBridgeBase is
    ICreditBridge,
    CrosschainLinked,
    AccessControlDefaultAdminRules,
    ReentrancyGuardTransient
{
    /// @notice Pauses and resumes each direction.
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");

    /// @notice Gas given to the transfer of delivered credits to their recipient: the token's own checks and the
    /// recipient's ERC-1155 hook. Fixed, whatever gas the relayer chose: a refusal inside it is the recipient's, so
    /// the credits are returned; a caller who cannot give this much gets `BridgeDeliveryGasTooLow` and nothing
    /// changes.
    uint256 public constant RECIPIENT_GAS = 300_000;

    /// @dev Gas kept back beyond RECIPIENT_GAS (and the 1/64 the call keeps, EIP-150) for the call itself and all
    /// that follows a refused transfer: the return message through the gateway, its event and the gateway's finish.
    uint256 private constant _AFTER_TRANSFER_GAS = 60_000;

    /// @dev An id's use of its limit in the current window, in one slot.
    struct Usage {
        uint64 window;
        uint192 used;
    }

    /// @dev A per-id limit; `custom` false means the id follows the default.
    struct IdLimit {
        bool custom;
        uint248 limit;
    }

    uint256 private immutable _windowSeconds;

    address private _remoteBridge;
    uint64 private _remoteChainId;
    bool private _outboundPaused;
    bool private _inboundPaused;
    address private _gateway;
    uint256[2] private _defaultLimits;
    mapping(uint256 id => IdLimit)[2] private _idLimits;
    mapping(uint256 id => Usage)[2] private _usage;

    /// @param windowSeconds_ Length of a rate-limit window.
    /// @param defaultLimit Units per id per window, both directions, for ids without their own limit.
    /// @param adminDelay Seconds the two-step admin transfer waits.
    /// @param admin The DEFAULT_ADMIN_ROLE holder.
    constructor(uint256 windowSeconds_, uint256 defaultLimit, uint48 adminDelay, address admin)
        CrosschainLinked(new Link[](0))
        AccessControlDefaultAdminRules(adminDelay, admin)
    {
        if (windowSeconds_ == 0) revert BridgeInvalidWindow(windowSeconds_);
        _windowSeconds = windowSeconds_;
        _defaultLimits[0] = defaultLimit;
        _defaultLimits[1] = defaultLimit;
        emit DefaultLimitSet(Direction.Outbound, defaultLimit);
        emit DefaultLimitSet(Direction.Inbound, defaultLimit);
    }

    // ------------------------------------------------------------------ administration

    /// @inheritdoc ICreditBridge
    function link(address gateway_, bytes calldata counterpart) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (_remoteChainId != 0) revert BridgeAlreadyLinked(_remoteChainId);
        (bool ok, uint256 chainId, address remote) = InteroperableAddress.tryParseEvmV1Calldata(counterpart);
        if (!ok || remote == address(0) || chainId == 0 || chainId == block.chainid || chainId > type(uint64).max) {
            revert BridgeInvalidCounterpart(counterpart);
        }
        _checkRemoteChain(chainId, counterpart);
        // Stored in canonical form: the gateway formats the sender the same way, and CrosschainLinked compares
        // the bytes.
        _setLink(gateway_, InteroperableAddress.formatEvmV1(chainId, remote), false);
        _remoteChainId = uint64(chainId);
        _remoteBridge = remote;
        _gateway = gateway_;
        emit BridgeLinked(chainId, remote, gateway_);
    }

    /// @inheritdoc ICreditBridge
    function pause(Direction direction) external onlyRole(PAUSER_ROLE) {
        _setPaused(direction, true);
        emit DirectionPaused(direction, msg.sender);
    }

    /// @inheritdoc ICreditBridge
    function unpause(Direction direction) external onlyRole(PAUSER_ROLE) {
        _setPaused(direction, false);
        emit DirectionUnpaused(direction, msg.sender);
    }

    /// @inheritdoc ICreditBridge
    function setDefaultLimit(Direction direction, uint256 limit) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _defaultLimits[uint8(direction)] = limit;
        emit DefaultLimitSet(direction, limit);
    }

    /// @inheritdoc ICreditBridge
    function setIdLimit(Direction direction, uint256 id, uint256 limit, bool custom)
        external
        onlyRole(DEFAULT_ADMIN_ROLE)
    {
        if (custom) {
            if (limit > type(uint192).max) limit = type(uint192).max;
            // Cannot truncate: limit < 2^192.
            _idLimits[uint8(direction)][id] = IdLimit(true, uint248(limit));
        } else {
            delete _idLimits[uint8(direction)][id];
            limit = _defaultLimits[uint8(direction)];
        }
        emit IdLimitSet(direction, id, limit, custom);
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc ICreditBridge
    function remoteChainId() public view returns (uint256) {
        return _remoteChainId;
    }

    /// @inheritdoc ICreditBridge
    function remoteBridge() external view returns (address) {
        return _remoteBridge;
    }

    /// @inheritdoc ICreditBridge
    function gateway() external view returns (address) {
        return _gateway;
    }

    /// @inheritdoc ICreditBridge
    function paused(Direction direction) public view returns (bool) {
        return direction == Direction.Outbound ? _outboundPaused : _inboundPaused;
    }

    /// @inheritdoc ICreditBridge
    function windowSeconds() external view returns (uint256) {
        return _windowSeconds;
    }

    /// @inheritdoc ICreditBridge
    function limitOf(Direction direction, uint256 id) public view returns (uint256) {
        IdLimit memory own = _idLimits[uint8(direction)][id];
        uint256 limit = own.custom ? own.limit : _defaultLimits[uint8(direction)];
        // Capped so that a window's use always fits its 192-bit slot.
        return limit > type(uint192).max ? type(uint192).max : limit;
    }

    /// @inheritdoc ICreditBridge
    function availableOf(Direction direction, uint256 id) public view returns (uint256) {
        uint256 limit = limitOf(direction, id);
        uint256 used = _usedNow(direction, id);
        return used >= limit ? 0 : limit - used;
    }

    /// @notice Whether this contract implements `interfaceId` (ERC-165).
    function supportsInterface(bytes4 interfaceId) public view virtual override returns (bool) {
        return interfaceId == type(ICreditBridge).interfaceId || super.supportsInterface(interfaceId);
    }

    // ------------------------------------------------------------------ for the bridges

    /// @dev Refuses a paused direction.
    function _requireActive(Direction direction) internal view {
        if (paused(direction)) revert BridgeDirectionPaused(direction);
    }

    /// @dev The recipient address of `to`, which must be on the linked chain, and neither zero nor the counterpart.
    function _destination(bytes calldata to) internal view returns (address recipient) {
        uint256 expected = _remoteChainId;
        if (expected == 0) revert BridgeNotLinked();
        (bool ok, uint256 chainId, address addr) = InteroperableAddress.tryParseEvmV1Calldata(to);
        if (!ok || addr == address(0)) revert BridgeInvalidRecipient(to);
        if (chainId != expected) revert BridgeWrongDestinationChain(chainId, expected);
        // The counterpart bridge as recipient would release (or mint) into the bridge itself, outside the escrow
        // ledger: stuck for good.
        if (addr == _remoteBridge) revert BridgeRecipientIsBridge(addr);
        return addr;
    }

    /// @dev Makes the call `data` to `target` (the transfer of delivered credits to their recipient) with exactly
    /// RECIPIENT_GAS, after checking that this much can be forwarded with _AFTER_TRANSFER_GAS still left; otherwise
    /// reverts with `BridgeDeliveryGasTooLow` (the caller's shortfall: nothing changes and the delivery waits for a
    /// retry). Returns whether the call succeeded and, if not, the first ExactGasCall.MAX_REASON bytes of its
    /// refusal (a huge reason must not cost the return path its gas). `target` is the bridge's immutable token or
    /// mirror, which has code: a call to an address without code would succeed without doing anything.
    function _transferToRecipient(address target, bytes memory data) internal returns (bool ok, bytes memory reason) {
        uint256 needed = ExactGasCall.gasNeeded(RECIPIENT_GAS, _AFTER_TRANSFER_GAS);
        uint256 left = gasleft();
        if (left < needed) revert BridgeDeliveryGasTooLow(left, needed);
        return ExactGasCall.callExact(target, RECIPIENT_GAS, data);
    }

    /// @dev Turns the refused delivery of transfer `receiveId` (`amount` of `id`, refused by `recipient` with
    /// `reason` inside its fixed RECIPIENT_GAS) into a return to its `sender`. A return is never returned again
    /// (the bridges do not catch a refused return: it reverts and stays retriable).
    function _return(
        bytes32 receiveId,
        uint256 id,
        uint256 amount,
        address recipient,
        address sender,
        bytes memory reason
    ) internal {
        bytes32 messageId = _sendToRemote(BridgeMessages.encodeReturn(id, amount, recipient, sender, receiveId));
        emit TransferReturned(messageId, receiveId, id, recipient, sender, amount, reason);
    }

    /// @dev Books `amount` units of `id` against the current window's limit in `direction`, or reverts.
    function _consume(Direction direction, uint256 id, uint256 amount) internal {
        uint256 window = block.timestamp / _windowSeconds;
        Usage memory u = _usage[uint8(direction)][id];
        uint256 used = u.window == window ? u.used : 0;
        uint256 limit = limitOf(direction, id);
        uint256 available = used >= limit ? 0 : limit - used;
        if (amount > available) {
            revert BridgeRateLimited(direction, id, amount, available, (window + 1) * _windowSeconds);
        }
        // Cannot truncate: used + amount <= limit < 2^192 (limitOf caps it); the window number fits 64 bits for eons.
        _usage[uint8(direction)][id] = Usage(uint64(window), uint192(used + amount));
    }

    /// @dev Sends `payload` to the counterpart; returns the gateway's message id.
    function _sendToRemote(bytes memory payload) internal returns (bytes32) {
        return _sendMessageToCounterpart(InteroperableAddress.formatEvmV1(_remoteChainId), payload, new bytes[](0));
    }

    /// @dev Hook for a bridge that may link only to some chains (the remote bridge: only the origin).
    function _checkRemoteChain(uint256 chainId, bytes calldata counterpart) internal view virtual {}

    function _usedNow(Direction direction, uint256 id) private view returns (uint256) {
        Usage memory u = _usage[uint8(direction)][id];
        return u.window == block.timestamp / _windowSeconds ? u.used : 0;
    }

    function _setPaused(Direction direction, bool value) private {
        if (paused(direction) == value) revert BridgePauseUnchanged(direction, value);
        if (direction == Direction.Outbound) _outboundPaused = value;
        else _inboundPaused = value;
    }
}
