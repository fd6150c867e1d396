// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AccessControlDefaultAdminRules} from
    "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {ERC1155} from "@openzeppelin/contracts/token/ERC1155/ERC1155.sol";
import {ERC1155Supply} from "@openzeppelin/contracts/token/ERC1155/extensions/ERC1155Supply.sol";

import {IMirrorCredit} from "../interfaces/IMirrorCredit.sol";
import {BridgeMessages} from "../libraries/BridgeMessages.sol";
import {CreditIds} from "../libraries/CreditIds.sol";

/// @title MirrorCredit
/// @notice Tonne credits on a remote chain: same ids and units as at home, minted and burned by the remote bridge
/// only, retired by holders with the origin chain and token in the event.
/// @dev Not OpenZeppelin's `ERC1155Crosschain`: that embeds the bridge (and its link) in the token, where Tonne
/// keeps the bridge apart so that it can be paused and rate-limited without touching balances, and so that the
/// token stays a plain ERC-1155 with batch metadata. Retirement here is deliberately small (burn, counter,
/// event); the home chain's certificates are not reproduced.
/// The home chain's rules apply here as the home bridge last sent them (`bridgeApplyRules`, per key and only if
/// newer): pause, permissioned mode, each account's allowlist and freeze, each project's restriction. Every
/// balance change but the bridge's mint is checked: transfers (holder, recipient and operator), retirements and
/// burns home (holder).
contract MirrorCredit is IMirrorCredit, ERC1155Supply, AccessControlDefaultAdminRules {
    uint256 private immutable _originChainId;
    address private immutable _originToken;

    address private _bridge;
    uint256 private _retirementCount;
    mapping(uint256 id => BatchMetadata) private _metadata;
    mapping(uint256 id => uint256) private _retired;

    /// @dev The token-wide rules and the counts that let the common case skip per-account and per-id reads.
    struct Guard {
        uint64 tokenSeq;
        uint8 tokenFlags;
        uint32 frozenAccounts;
        uint32 restrictedProjects;
    }

    Guard private _guard;
    mapping(uint256 key => Rule) private _rules;

    /// @param originChainId_ The home chain's id.
    /// @param originToken_ The Tonne credit token on the home chain.
    /// @param fallbackURI ERC-1155 URI for ids whose metadata has no URI.
    /// @param adminDelay Seconds the two-step admin transfer waits.
    /// @param admin The DEFAULT_ADMIN_ROLE holder (binds the bridge, once).
    constructor(
        uint256 originChainId_,
        address originToken_,
        string memory fallbackURI,
        uint48 adminDelay,
        address admin
    )
        ERC1155(fallbackURI)
        AccessControlDefaultAdminRules(adminDelay, admin)
    {
        _originChainId = originChainId_;
        _originToken = originToken_;
    }

    modifier onlyBridge() {
        if (msg.sender != _bridge) revert MirrorCallerNotBridge(msg.sender);
        _;
    }

    /// @inheritdoc IMirrorCredit
    function bindBridge(address bridge_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (_bridge != address(0) || bridge_ == address(0)) revert MirrorBridgeAlreadyBound(_bridge);
        _bridge = bridge_;
        emit MirrorBridgeBound(bridge_);
    }

    /// @inheritdoc IMirrorCredit
    function bridgeRecordMetadata(uint256 id, bytes calldata metadata) external onlyBridge {
        if (_metadata[id].projectId != 0) return;
        if (metadata.length == 0) revert MirrorMissingMetadata(id);
        BatchMetadata memory m = abi.decode(metadata, (BatchMetadata));
        if (m.projectId == 0) revert MirrorMissingMetadata(id);
        _metadata[id] = m;
        emit MetadataRecorded(id, m);
    }

    /// @inheritdoc IMirrorCredit
    function bridgeMint(address to, uint256 id, uint256 amount) external onlyBridge {
        if (_metadata[id].projectId == 0) revert MirrorMissingMetadata(id);
        _mint(to, id, amount, "");
    }

    /// @inheritdoc IMirrorCredit
    function bridgeApplyRules(uint64 seq, uint256[] calldata keys, uint8[] calldata flags) external onlyBridge {
        if (keys.length != flags.length) revert MirrorInvalidRules(keys.length, flags.length);
        for (uint256 i; i < keys.length; ++i) {
            _applyRule(seq, keys[i], flags[i]);
        }
    }

    /// @inheritdoc IMirrorCredit
    function bridgeBurn(address from, uint256 id, uint256 amount) external onlyBridge {
        _burn(from, id, amount);
    }

    /// @inheritdoc IMirrorCredit
    function retire(uint256 id, uint256 amount, string calldata beneficiaryName, string calldata reason)
        external
        returns (uint256 retirementId)
    {
        if (amount == 0) revert MirrorZeroAmount(id);
        _burn(msg.sender, id, amount);
        _retired[id] += amount;
        retirementId = ++_retirementCount;
        emit RemoteRetired(retirementId, msg.sender, id, amount, _originChainId, _originToken, beneficiaryName, reason);
    }

    /// @inheritdoc IMirrorCredit
    function originChainId() external view returns (uint256) {
        return _originChainId;
    }

    /// @inheritdoc IMirrorCredit
    function originToken() external view returns (address) {
        return _originToken;
    }

    /// @inheritdoc IMirrorCredit
    function bridge() external view returns (address) {
        return _bridge;
    }

    /// @inheritdoc IMirrorCredit
    function metadataOf(uint256 id) external view returns (BatchMetadata memory) {
        return _metadata[id];
    }

    /// @inheritdoc IMirrorCredit
    function rulesOf(uint256 key) external view returns (Rule memory) {
        if (key == BridgeMessages.tokenKey()) return Rule(_guard.tokenSeq, _guard.tokenFlags);
        return _rules[key];
    }

    /// @inheritdoc IMirrorCredit
    function paused() external view returns (bool) {
        return _guard.tokenFlags & BridgeMessages.TOKEN_PAUSED != 0;
    }

    /// @inheritdoc IMirrorCredit
    function permissioned() external view returns (bool) {
        return _guard.tokenFlags & BridgeMessages.TOKEN_PERMISSIONED != 0;
    }

    /// @inheritdoc IMirrorCredit
    function isAllowed(address account) external view returns (bool) {
        return _rules[BridgeMessages.accountKey(account)].flags & BridgeMessages.ACCOUNT_ALLOWED != 0;
    }

    /// @inheritdoc IMirrorCredit
    function isFrozen(address account) external view returns (bool) {
        return _rules[BridgeMessages.accountKey(account)].flags & BridgeMessages.ACCOUNT_FROZEN != 0;
    }

    /// @inheritdoc IMirrorCredit
    function isProjectRestricted(uint64 projectId) external view returns (bool) {
        return _rules[BridgeMessages.projectKey(projectId)].flags & BridgeMessages.PROJECT_RESTRICTED != 0;
    }

    /// @inheritdoc IMirrorCredit
    function totalSupply(uint256 id) public view override(IMirrorCredit, ERC1155Supply) returns (uint256) {
        return ERC1155Supply.totalSupply(id);
    }

    /// @inheritdoc IMirrorCredit
    function totalRetired(uint256 id) external view returns (uint256) {
        return _retired[id];
    }

    /// @inheritdoc IMirrorCredit
    function retirementCount() external view returns (uint256) {
        return _retirementCount;
    }

    /// @notice The batch's metadata URI carried from home, or the fallback URI.
    function uri(uint256 id) public view override returns (string memory) {
        string memory own = _metadata[id].uri;
        return bytes(own).length != 0 ? own : super.uri(id);
    }

    /// @notice Whether this contract implements `interfaceId` (ERC-165).
    function supportsInterface(bytes4 interfaceId)
        public
        view
        override(ERC1155, AccessControlDefaultAdminRules)
        returns (bool)
    {
        return interfaceId == type(IMirrorCredit).interfaceId || super.supportsInterface(interfaceId);
    }

    /// @dev Every balance change passes here. The bridge's mint is exempt: the recipient was checked at home
    /// when the credits were locked, and a mint that could fail would leave locked credits in flight.
    function _update(address from, address to, uint256[] memory ids, uint256[] memory values) internal override {
        if (from != address(0)) {
            Guard memory g = _guard;
            if (g.tokenFlags & BridgeMessages.TOKEN_PAUSED != 0) revert MirrorPaused();
            bool permissioned_ = g.tokenFlags & BridgeMessages.TOKEN_PERMISSIONED != 0;
            if (permissioned_ || g.frozenAccounts != 0) {
                _checkAccount(from, permissioned_);
                if (to != address(0)) {
                    _checkAccount(to, permissioned_);
                    address operator = _msgSender();
                    if (operator != from) _checkAccount(operator, permissioned_);
                }
            }
            if (g.restrictedProjects != 0) {
                for (uint256 i; i < ids.length; ++i) {
                    uint64 projectId = CreditIds.projectOf(ids[i]);
                    if (_rules[BridgeMessages.projectKey(projectId)].flags & BridgeMessages.PROJECT_RESTRICTED != 0) {
                        revert MirrorProjectRestricted(ids[i], projectId);
                    }
                }
            }
        }
        super._update(from, to, ids, values);
    }

    function _checkAccount(address account, bool permissioned_) private view {
        uint8 flags = _rules[BridgeMessages.accountKey(account)].flags;
        if (flags & BridgeMessages.ACCOUNT_FROZEN != 0) revert MirrorAccountFrozen(account);
        if (permissioned_ && flags & BridgeMessages.ACCOUNT_ALLOWED == 0) revert MirrorAccountNotAllowed(account);
    }

    /// @dev Applies `flags` to `key` if `seq` is newer than the sequence it holds; an older or equal one (a
    /// message delivered late) is ignored, so it can never undo a newer rule.
    function _applyRule(uint64 seq, uint256 key, uint8 flags) private {
        uint8 scope = uint8(key >> 248);
        if (scope == BridgeMessages.SCOPE_TOKEN) {
            if (key != BridgeMessages.tokenKey() || flags > 3) revert MirrorInvalidRule(key, flags);
            Guard memory g = _guard;
            if (seq <= g.tokenSeq) {
                emit RuleIgnored(key, seq, g.tokenSeq);
                return;
            }
            g.tokenSeq = seq;
            g.tokenFlags = flags;
            _guard = g;
        } else if (scope == BridgeMessages.SCOPE_ACCOUNT || scope == BridgeMessages.SCOPE_PROJECT) {
            uint8 counted;
            if (scope == BridgeMessages.SCOPE_ACCOUNT) {
                if (key >> 160 != uint256(scope) << 88 || flags > 3) revert MirrorInvalidRule(key, flags);
                counted = BridgeMessages.ACCOUNT_FROZEN;
            } else {
                if (key >> 64 != uint256(scope) << 184 || flags > 1) revert MirrorInvalidRule(key, flags);
                counted = BridgeMessages.PROJECT_RESTRICTED;
            }
            Rule memory r = _rules[key];
            if (seq <= r.seq) {
                emit RuleIgnored(key, seq, r.seq);
                return;
            }
            bool was = r.flags & counted != 0;
            bool now_ = flags & counted != 0;
            if (was != now_) {
                // Cannot overflow or underflow: a count moves only when its flag flips.
                unchecked {
                    if (scope == BridgeMessages.SCOPE_ACCOUNT) {
                        if (now_) ++_guard.frozenAccounts;
                        else --_guard.frozenAccounts;
                    } else {
                        if (now_) ++_guard.restrictedProjects;
                        else --_guard.restrictedProjects;
                    }
                }
            }
            _rules[key] = Rule(seq, flags);
        } else {
            revert MirrorInvalidRule(key, flags);
        }
        emit RuleApplied(key, flags, seq);
    }
}
