// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC1155} from "@openzeppelin/contracts/token/ERC1155/IERC1155.sol";
import {IERC1155Receiver} from "@openzeppelin/contracts/token/ERC1155/IERC1155Receiver.sol";
import {IERC1155MetadataURI} from "@openzeppelin/contracts/token/ERC1155/extensions/IERC1155MetadataURI.sol";
import {ERC1155Holder} from "@openzeppelin/contracts/token/ERC1155/utils/ERC1155Holder.sol";

import {ICarbonCredit} from "../interfaces/ICarbonCredit.sol";
import {ICarbonRegistry} from "../interfaces/ICarbonRegistry.sol";
import {IHomeBridge} from "../interfaces/IHomeBridge.sol";
import {IMirrorCredit} from "../interfaces/IMirrorCredit.sol";
import {BridgeMessages} from "../libraries/BridgeMessages.sol";
import {CreditIds} from "../libraries/CreditIds.sol";
import {CreditBridgeBase} from "./CreditBridgeBase.sol";

/// @title HomeBridge
/// @notice Escrows Tonne credits on their home chain for the mirror on one remote chain.
/// @dev Not OpenZeppelin's `BridgeERC1155`: its message format cannot carry the batch metadata the remote
/// mirror needs, and it has no per-id escrow ledger to bound releases. The same ideas are kept: custody through
/// the token's own `safeTransferFrom` with this bridge as the approved operator, and deposits accepted only
/// when this bridge initiated them.
contract HomeBridge is IHomeBridge, CreditBridgeBase, ERC1155Holder {
    IERC1155 private immutable _token;
    ICarbonRegistry private immutable _registry;

    mapping(uint256 id => uint256) private _locked;

    /// @param token_ The Tonne credit token to escrow.
    /// @param windowSeconds_ Length of a rate-limit window.
    /// @param defaultLimit Units per id per window, both directions, for ids without their own limit.
    /// @param adminDelay Seconds the two-step admin transfer waits.
    /// @param admin The DEFAULT_ADMIN_ROLE holder.
    constructor(address token_, uint256 windowSeconds_, uint256 defaultLimit, uint48 adminDelay, address admin)
        CreditBridgeBase(windowSeconds_, defaultLimit, adminDelay, admin)
    {
        _token = IERC1155(token_);
        _registry = ICarbonRegistry(ICarbonCredit(token_).registry());
    }

    /// @inheritdoc IHomeBridge
    function send(uint256 id, uint256 amount, bytes calldata to) external nonReentrant returns (bytes32 messageId) {
        _requireActive(Direction.Outbound);
        if (amount == 0) revert BridgeZeroAmount(id);
        address recipient = _destination(to);
        _consume(Direction.Outbound, id, amount);
        _locked[id] += amount;
        // The token applies its rules here: balance (what is pledged or escrowed elsewhere is not the caller's),
        // pause, freeze, allowlist, and Suspended or Terminated projects.
        _token.safeTransferFrom(msg.sender, address(this), id, amount, "");
        bytes memory payload =
            BridgeMessages.encode(BridgeMessages.LOCK, id, amount, msg.sender, recipient, _metadata(id));
        messageId = _sendToRemote(payload);
        emit CreditsLocked(messageId, id, msg.sender, recipient, amount);
    }

    /// @inheritdoc IHomeBridge
    function token() external view returns (address) {
        return address(_token);
    }

    /// @inheritdoc IHomeBridge
    function locked(uint256 id) external view returns (uint256) {
        return _locked[id];
    }

    /// @notice Accepts credits only when this bridge pulls them in `send`.
    function onERC1155Received(address operator, address from, uint256, uint256, bytes memory)
        public
        view
        override
        returns (bytes4)
    {
        if (msg.sender != address(_token) || operator != address(this)) {
            revert HomeBridgeUnsolicitedDeposit(operator, from);
        }
        return IERC1155Receiver.onERC1155Received.selector;
    }

    /// @notice Refuses every batch deposit: `send` moves one id at a time.
    function onERC1155BatchReceived(address operator, address from, uint256[] memory, uint256[] memory, bytes memory)
        public
        pure
        override
        returns (bytes4)
    {
        revert HomeBridgeUnsolicitedDeposit(operator, from);
    }

    /// @notice Whether this contract implements `interfaceId` (ERC-165).
    function supportsInterface(bytes4 interfaceId)
        public
        view
        override(CreditBridgeBase, ERC1155Holder)
        returns (bool)
    {
        return interfaceId == type(IHomeBridge).interfaceId || CreditBridgeBase.supportsInterface(interfaceId)
            || ERC1155Holder.supportsInterface(interfaceId);
    }

    /// @dev A burn on the remote chain: release the credits, never more than are locked for the id.
    function _processMessage(address, bytes32 receiveId, bytes calldata, bytes calldata payload)
        internal
        override
        nonReentrant
    {
        _requireActive(Direction.Inbound);
        (uint8 kind, uint256 id, uint256 amount, address from, address to,) = BridgeMessages.decode(payload);
        if (kind != BridgeMessages.BURN) revert BridgeUnexpectedMessage(kind, BridgeMessages.BURN);
        _consume(Direction.Inbound, id, amount);
        uint256 held = _locked[id];
        if (amount > held) revert HomeBridgeReleaseExceedsLocked(id, amount, held);
        // Cannot underflow: amount <= held was just checked.
        unchecked {
            _locked[id] = held - amount;
        }
        emit CreditsReleased(receiveId, id, to, from, amount);
        _token.safeTransferFrom(address(this), to, id, amount, "");
    }

    /// @dev The batch metadata of `id`, from the registry, ABI-encoded as `IMirrorCredit.BatchMetadata`.
    function _metadata(uint256 id) private view returns (bytes memory) {
        ICarbonRegistry.BatchView memory b = _registry.batch(id);
        string memory standard = _registry.project(CreditIds.projectOf(id)).standard;
        string memory uri =
            bytes(b.metadataURI).length != 0 ? b.metadataURI : IERC1155MetadataURI(address(_token)).uri(id);
        return abi.encode(
            IMirrorCredit.BatchMetadata(
                b.projectId, b.serialFirst, b.serialLast, b.periodStart, b.periodEnd, standard, uri
            )
        );
    }
}
