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

    /// @notice Most rule keys one `syncRules` may carry.
    uint256 public constant MAX_RULES = 64;
    uint8 private constant _SENT = 0x80;

    mapping(uint256 id => uint256) private _locked;
    /// @dev The last rule sequence and the token key's last sent state, in one slot (every lock writes both).
    struct RuleHead {
        uint64 seq;
        uint8 tokenSent;
    }

    RuleHead private _head;
    mapping(uint256 key => uint8) private _sentRules;

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
        // The recipient is held to the home rules as if it were an account here: the mirror records what is
        // read now (the lock carries it), so no account the home chain did not check ever receives credits.
        uint8 toRules = _accountRules(recipient);
        if (toRules & BridgeMessages.ACCOUNT_FROZEN != 0) revert HomeBridgeRecipientFrozen(recipient);
        uint8 tokenRules = _tokenRules();
        if (tokenRules & BridgeMessages.TOKEN_PERMISSIONED != 0 && toRules & BridgeMessages.ACCOUNT_ALLOWED == 0) {
            revert HomeBridgeRecipientNotAllowed(recipient);
        }
        _consume(Direction.Outbound, id, amount);
        _locked[id] += amount;
        // The token applies its rules here: balance (what is pledged or escrowed elsewhere is not the caller's),
        // pause, freeze, allowlist, and Suspended or Terminated projects.
        _token.safeTransferFrom(msg.sender, address(this), id, amount, "");
        uint64 seq = _head.seq + 1;
        _head = RuleHead(seq, tokenRules | _SENT);
        uint256 toKey = BridgeMessages.accountKey(recipient);
        if (_sentRules[toKey] != toRules | _SENT) _sentRules[toKey] = toRules | _SENT;
        bytes memory payload = BridgeMessages.encodeLock(
            id, amount, msg.sender, recipient, _metadata(id), seq, tokenRules, toRules
        );
        messageId = _sendToRemote(payload);
        emit CreditsLocked(messageId, id, msg.sender, recipient, amount);
    }

    /// @inheritdoc IHomeBridge
    function syncRules(bool tokenWide, address[] calldata accounts, uint64[] calldata projects)
        external
        nonReentrant
        returns (bytes32 messageId)
    {
        if (remoteChainId() == 0) revert BridgeNotLinked();
        uint256 count = (tokenWide ? 1 : 0) + accounts.length + projects.length;
        if (count == 0) revert HomeBridgeNoRules();
        if (count > MAX_RULES) revert HomeBridgeTooManyRules(count, MAX_RULES);
        uint256[] memory keys = new uint256[](count);
        uint8[] memory flags = new uint8[](count);
        uint256 n;
        if (tokenWide) {
            keys[0] = BridgeMessages.tokenKey();
            flags[0] = _tokenRules();
            n = 1;
        }
        for (uint256 i; i < accounts.length; ++i) {
            keys[n] = BridgeMessages.accountKey(accounts[i]);
            flags[n] = _accountRules(accounts[i]);
            ++n;
        }
        for (uint256 i; i < projects.length; ++i) {
            keys[n] = BridgeMessages.projectKey(projects[i]);
            flags[n] = _projectRules(projects[i]);
            ++n;
        }
        RuleHead memory head = _head;
        for (uint256 i; i < count; ++i) {
            // A key whose state equals the last one sent (also a key repeated in this call) would only cost the
            // relayer gas: refused.
            uint8 sent = i == 0 && tokenWide ? head.tokenSent : _sentRules[keys[i]];
            if (sent == flags[i] | _SENT) revert HomeBridgeRuleUnchanged(keys[i], flags[i]);
            if (i == 0 && tokenWide) head.tokenSent = flags[i] | _SENT;
            else _sentRules[keys[i]] = flags[i] | _SENT;
        }
        uint64 seq = ++head.seq;
        _head = head;
        messageId = _sendToRemote(BridgeMessages.encodeRules(seq, keys, flags));
        emit RulesSent(messageId, seq, keys, flags);
    }

    /// @inheritdoc IHomeBridge
    function rulesOf(uint256 key) public view returns (uint8 flags) {
        uint8 scope = uint8(key >> 248);
        if (scope == BridgeMessages.SCOPE_TOKEN && key == BridgeMessages.tokenKey()) return _tokenRules();
        if (scope == BridgeMessages.SCOPE_ACCOUNT && key >> 160 == uint256(scope) << 88) {
            return _accountRules(address(uint160(key)));
        }
        if (scope == BridgeMessages.SCOPE_PROJECT && key >> 64 == uint256(scope) << 184) {
            return _projectRules(uint64(key));
        }
        revert HomeBridgeUnknownRuleKey(key);
    }

    /// @inheritdoc IHomeBridge
    function sentRulesOf(uint256 key) external view returns (bool sent, uint8 flags) {
        uint8 v = _sentOf(key);
        return (v & _SENT != 0, v & ~_SENT);
    }

    /// @inheritdoc IHomeBridge
    function inSync(uint256 key) external view returns (bool) {
        return _sentOf(key) == rulesOf(key) | _SENT;
    }

    /// @inheritdoc IHomeBridge
    function ruleSeq() external view returns (uint64) {
        return _head.seq;
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

    /// @dev A burn on the remote chain: release the credits, never more than are locked for the id; a refused
    /// release is returned to the burner (`_return`). A return from the remote chain: release to the locker.
    function _processMessage(address, bytes32 receiveId, bytes calldata, bytes calldata payload)
        internal
        override
        nonReentrant
    {
        _requireActive(Direction.Inbound);
        uint8 kind = BridgeMessages.kindOf(payload);
        if (kind == BridgeMessages.RETURN) {
            // A lock the mirror could not mint: release it to its locker. No rate limit (the lock consumed the
            // outbound one; this only undoes it) and no catch: a refused return reverts and waits.
            (uint256 rid, uint256 ramount, address sender, bytes32 returned) = BridgeMessages.decodeReturn(payload);
            _unlock(rid, ramount);
            emit TransferRestored(receiveId, returned, rid, sender, ramount);
            _token.safeTransferFrom(address(this), sender, rid, ramount, "");
            return;
        }
        if (kind != BridgeMessages.BURN) revert BridgeUnexpectedMessage(kind, BridgeMessages.BURN);
        (, uint256 id, uint256 amount, address from, address to,) = BridgeMessages.decode(payload);
        _consume(Direction.Inbound, id, amount);
        uint256 held = _unlock(id, amount);
        (bool released, bytes memory reason) = _transferToRecipient(
            address(_token), abi.encodeCall(IERC1155.safeTransferFrom, (address(this), to, id, amount, ""))
        );
        if (released) {
            emit CreditsReleased(receiveId, id, to, from, amount);
        } else {
            // Refused (frozen, not allowlisted, not a receiver...): the credits stay locked and go back.
            _locked[id] = held;
            _return(receiveId, id, amount, to, from, reason);
        }
    }

    /// @dev Takes `amount` of `id` off the escrow ledger, never more than is locked; returns the amount before.
    function _unlock(uint256 id, uint256 amount) private returns (uint256 held) {
        held = _locked[id];
        if (amount > held) revert HomeBridgeReleaseExceedsLocked(id, amount, held);
        // Cannot underflow: amount <= held was just checked.
        unchecked {
            _locked[id] = held - amount;
        }
    }

    /// @dev The token-wide home rules, as flags of the token key.
    function _tokenRules() private view returns (uint8 flags) {
        ICarbonCredit t = ICarbonCredit(address(_token));
        if (t.paused()) flags |= BridgeMessages.TOKEN_PAUSED;
        if (t.permissioned()) flags |= BridgeMessages.TOKEN_PERMISSIONED;
    }

    /// @dev `account`'s home rules, as flags of its key.
    function _accountRules(address account) private view returns (uint8 flags) {
        ICarbonCredit t = ICarbonCredit(address(_token));
        if (t.isAllowed(account)) flags |= BridgeMessages.ACCOUNT_ALLOWED;
        if (t.isFrozen(account)) flags |= BridgeMessages.ACCOUNT_FROZEN;
    }

    /// @dev Project `projectId`'s home rules (restricted = Suspended or Terminated), as flags of its key.
    function _projectRules(uint64 projectId) private view returns (uint8 flags) {
        if (ICarbonCredit(address(_token)).isProjectRestricted(projectId)) flags |= BridgeMessages.PROJECT_RESTRICTED;
    }

    /// @dev The last state sent for `key` with the `_SENT` bit (0: never). A lock counts as sending the token's
    /// and the recipient's, so that a later sync of the same state is refused and a sync of a change is not.
    function _sentOf(uint256 key) private view returns (uint8) {
        return key == BridgeMessages.tokenKey() ? _head.tokenSent : _sentRules[key];
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
