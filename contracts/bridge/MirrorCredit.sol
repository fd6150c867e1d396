// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AccessControlDefaultAdminRules} from
    "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {ERC1155} from "@openzeppelin/contracts/token/ERC1155/ERC1155.sol";
import {ERC1155Supply} from "@openzeppelin/contracts/token/ERC1155/extensions/ERC1155Supply.sol";

import {IMirrorCredit} from "../interfaces/IMirrorCredit.sol";

/// @title MirrorCredit
/// @notice Tonne credits on a remote chain: same ids and units as at home, minted and burned by the remote bridge
/// only, retired by holders with the origin chain and token in the event.
/// @dev Not OpenZeppelin's `ERC1155Crosschain`: that embeds the bridge (and its link) in the token, where Tonne
/// keeps the bridge apart so that it can be paused and rate-limited without touching balances, and so that the
/// token stays a plain ERC-1155 with batch metadata. Retirement here is deliberately small (burn, counter,
/// event); the home chain's certificates are not reproduced.
contract MirrorCredit is IMirrorCredit, ERC1155Supply, AccessControlDefaultAdminRules {
    uint256 private immutable _originChainId;
    address private immutable _originToken;

    address private _bridge;
    uint256 private _retirementCount;
    mapping(uint256 id => BatchMetadata) private _metadata;
    mapping(uint256 id => uint256) private _retired;

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
    function bridgeMint(address to, uint256 id, uint256 amount, bytes calldata metadata) external onlyBridge {
        if (_metadata[id].projectId == 0) {
            if (metadata.length == 0) revert MirrorMissingMetadata(id);
            BatchMetadata memory m = abi.decode(metadata, (BatchMetadata));
            if (m.projectId == 0) revert MirrorMissingMetadata(id);
            _metadata[id] = m;
            emit MetadataRecorded(id, m);
        }
        _mint(to, id, amount, "");
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
}
