// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IMirrorCredit} from "../interfaces/IMirrorCredit.sol";
import {IRemoteBridge} from "../interfaces/IRemoteBridge.sol";
import {BridgeMessages} from "../libraries/BridgeMessages.sol";
import {CreditBridgeBase} from "./CreditBridgeBase.sol";

/// @title RemoteBridge
/// @notice Mints mirror credits on a remote chain for credits locked at home, and burns them to send them home.
/// @dev Links only to the mirror's origin chain, so bridged credits can go back only where they came from.
contract RemoteBridge is IRemoteBridge, CreditBridgeBase {
    IMirrorCredit private immutable _mirror;

    /// @param mirror_ The mirror credit token (its bridge must be bound to this contract).
    /// @param windowSeconds_ Length of a rate-limit window.
    /// @param defaultLimit Units per id per window, both directions, for ids without their own limit.
    /// @param adminDelay Seconds the two-step admin transfer waits.
    /// @param admin The DEFAULT_ADMIN_ROLE holder.
    constructor(address mirror_, uint256 windowSeconds_, uint256 defaultLimit, uint48 adminDelay, address admin)
        CreditBridgeBase(windowSeconds_, defaultLimit, adminDelay, admin)
    {
        _mirror = IMirrorCredit(mirror_);
    }

    /// @inheritdoc IRemoteBridge
    function send(uint256 id, uint256 amount, bytes calldata to) external nonReentrant returns (bytes32 messageId) {
        _requireActive(Direction.Outbound);
        if (amount == 0) revert BridgeZeroAmount(id);
        address recipient = _destination(to);
        _consume(Direction.Outbound, id, amount);
        _mirror.bridgeBurn(msg.sender, id, amount);
        messageId = _sendToRemote(BridgeMessages.encode(BridgeMessages.BURN, id, amount, msg.sender, recipient, ""));
        emit CreditsBurned(messageId, id, msg.sender, recipient, amount);
    }

    /// @inheritdoc IRemoteBridge
    function mirror() external view returns (address) {
        return address(_mirror);
    }

    /// @notice Whether this contract implements `interfaceId` (ERC-165).
    function supportsInterface(bytes4 interfaceId) public view override returns (bool) {
        return interfaceId == type(IRemoteBridge).interfaceId || super.supportsInterface(interfaceId);
    }

    /// @dev A lock at home: mint the mirror to the addressee, after recording the rules it carries; a refused mint
    /// is returned home (`_return`). A return from home: mint back to the burner. Home rules:
    /// hand them to the mirror. Rules pass the inbound pause and the rate limits: a freeze or a suspension must
    /// reach the mirror even while mints wait.
    function _processMessage(address, bytes32 receiveId, bytes calldata, bytes calldata payload)
        internal
        override
        nonReentrant
    {
        uint8 kind = BridgeMessages.kindOf(payload);
        if (kind == BridgeMessages.RULES) {
            (uint64 seq, uint256[] memory keys, uint8[] memory flags) = BridgeMessages.decodeRules(payload);
            emit RulesReceived(receiveId, seq, keys.length);
            _mirror.bridgeApplyRules(seq, keys, flags);
            return;
        }
        _requireActive(Direction.Inbound);
        if (kind == BridgeMessages.RETURN) {
            // A burn the home chain could not release: mint it back to its burner. No rate limit (the burn
            // consumed the outbound one; this only undoes it) and no catch: a refused return reverts and waits.
            (uint256 rid, uint256 ramount, address sender, bytes32 returned) = BridgeMessages.decodeReturn(payload);
            emit TransferRestored(receiveId, returned, rid, sender, ramount);
            _mirror.bridgeMint(sender, rid, ramount);
            return;
        }
        if (kind != BridgeMessages.LOCK) revert BridgeUnexpectedMessage(kind, BridgeMessages.LOCK);
        (, uint256 id, uint256 amount, address from, address to, bytes memory metadata) =
            BridgeMessages.decode(payload);
        _applyLockRules(payload, to);
        _consume(Direction.Inbound, id, amount);
        // Outside the recipient's gas: what the first lock of an id costs must not come out of its hook's share.
        _mirror.bridgeRecordMetadata(id, metadata);
        (bool minted, bytes memory reason) =
            _transferToRecipient(address(_mirror), abi.encodeCall(IMirrorCredit.bridgeMint, (to, id, amount)));
        if (minted) emit CreditsMinted(receiveId, id, to, from, amount);
        else _return(receiveId, id, amount, to, from, reason);
    }

    /// @dev The token-wide rules and the recipient's that a lock carries (a zero sequence: none).
    function _applyLockRules(bytes calldata payload, address to) private {
        (uint64 seq, uint8 tokenRules, uint8 toRules) = BridgeMessages.decodeLockRules(payload);
        if (seq == 0) return;
        uint256[] memory keys = new uint256[](2);
        uint8[] memory flags = new uint8[](2);
        keys[0] = BridgeMessages.tokenKey();
        flags[0] = tokenRules;
        keys[1] = BridgeMessages.accountKey(to);
        flags[1] = toRules;
        _mirror.bridgeApplyRules(seq, keys, flags);
    }

    /// @dev Only the mirror's origin chain.
    function _checkRemoteChain(uint256 chainId, bytes calldata counterpart) internal view override {
        if (chainId != _mirror.originChainId()) revert BridgeInvalidCounterpart(counterpart);
    }
}
