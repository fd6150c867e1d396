// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title IMirrorCredit
/// @notice The remote chain's copy of Tonne credits: an ERC-1155 with the home token's ids and units, minted only
/// by the remote bridge when credits are locked at home, burned by it when they are sent home, and retired by
/// holders here with the origin recorded. Every id carries its batch metadata from the home registry.
/// @dev Invariant: per id, minted - burned = totalSupply + retired; and, across chains, what the home bridge holds
/// locked equals the mirror's supply plus its retirements plus messages in flight (checked by `bridge-audit`).
/// The home chain's rules hold here as last synced (pause, permissioned mode, allowlist, freezes, Suspended or
/// Terminated projects): every transfer, retirement and burn home checks them; the bridge's mint does not (its
/// recipient was checked at home). Between a change at home and its delivery here, the old rules apply.
/// Warning: the bound bridge is trusted to mint only on a valid message from the home bridge.
interface IMirrorCredit {
    /// @notice The batch metadata carried from the home registry with each lock message.
    /// @param projectId The project's id in the home registry.
    /// @param serialFirst First serial number of the batch at its standard.
    /// @param serialLast Last serial number of the batch at its standard.
    /// @param vintageStart Start of the monitoring (vintage) period, unix seconds.
    /// @param vintageEnd End of the monitoring period, unix seconds.
    /// @param standard The project's standard, e.g. "VCS".
    /// @param uri The batch's metadata URI (the home token's `uri(id)`).
    struct BatchMetadata {
        uint64 projectId;
        uint64 serialFirst;
        uint64 serialLast;
        uint40 vintageStart;
        uint40 vintageEnd;
        string standard;
        string uri;
    }

    /// @notice The home rules of one key as the mirror holds them: the home sequence they were read under (0:
    /// none yet) and their flags (see `BridgeMessages`).
    struct Rule {
        uint64 seq;
        uint8 flags;
    }

    /// @notice The home token is paused (as last synced): no credit moves here.
    error MirrorPaused();
    /// @notice `account` is frozen at home (as last synced).
    error MirrorAccountFrozen(address account);
    /// @notice The deployment is permissioned and `account` is not on the home allowlist (as last synced).
    error MirrorAccountNotAllowed(address account);
    /// @notice Project `projectId` of id `id` is Suspended or Terminated at home (as last synced).
    error MirrorProjectRestricted(uint256 id, uint64 projectId);
    /// @notice A rules message with `keys` keys and `flags` flags.
    error MirrorInvalidRules(uint256 keys, uint256 flags);
    /// @notice `key` is not a rule key, or `flags` has bits its scope does not define.
    error MirrorInvalidRule(uint256 key, uint8 flags);
    /// @notice `caller` is not the bound bridge.
    error MirrorCallerNotBridge(address caller);
    /// @notice The bridge is already bound, to `current` (or the zero address was given).
    error MirrorBridgeAlreadyBound(address current);
    /// @notice Id `id` arrived without metadata and has none recorded.
    error MirrorMissingMetadata(uint256 id);
    /// @notice A retirement of zero units of `id`.
    error MirrorZeroAmount(uint256 id);

    /// @notice The bridge was bound (once) by the admin.
    event MirrorBridgeBound(address indexed bridge);
    /// @notice Id `id` got its metadata, from the first lock message that carried it.
    event MetadataRecorded(uint256 indexed id, BatchMetadata metadata);
    /// @notice `account` retired `amount` units of `id` here (retirement `retirementId`) for `beneficiaryName`
    /// and `reason`; the credits came from token `originToken` on chain `originChainId`, where they stay locked.
    event RemoteRetired(
        uint256 indexed retirementId,
        address indexed account,
        uint256 indexed id,
        uint256 amount,
        uint256 originChainId,
        address originToken,
        string beneficiaryName,
        string reason
    );

    /// @notice The home rules of `key` are now `flags`, read at home under sequence `seq`.
    event RuleApplied(uint256 indexed key, uint8 flags, uint64 seq);
    /// @notice Rules of `key` read under sequence `seq` arrived after newer ones (`current`) and were ignored.
    event RuleIgnored(uint256 indexed key, uint64 seq, uint64 current);

    /// @notice Binds the bridge, the only minter and burner. Once; only the admin.
    function bindBridge(address bridge) external;

    /// @notice Records `metadata` (ABI-encoded `BatchMetadata`) as `id`'s if it has none yet; does nothing
    /// otherwise. Only the bridge.
    function bridgeRecordMetadata(uint256 id, bytes calldata metadata) external;

    /// @notice Mints `amount` of `id`, whose metadata is recorded, to `to`. Only the bridge.
    function bridgeMint(address to, uint256 id, uint256 amount) external;

    /// @notice Applies the home rules `flags[i]` of `keys[i]`, read at home under sequence `seq`, to each key
    /// whose held sequence is older; others are ignored (`RuleIgnored`). Only the bridge.
    function bridgeApplyRules(uint64 seq, uint256[] calldata keys, uint8[] calldata flags) external;

    /// @notice Burns `amount` of `id` from `from`, who asked the bridge to send them home. Only the bridge.
    function bridgeBurn(address from, uint256 id, uint256 amount) external;

    /// @notice Retires `amount` units of `id` from the caller's balance for `beneficiaryName` and `reason`.
    /// @return retirementId The retirement's number on this chain (from 1).
    function retire(uint256 id, uint256 amount, string calldata beneficiaryName, string calldata reason)
        external
        returns (uint256 retirementId);

    /// @notice The home rules of `key` held here.
    function rulesOf(uint256 key) external view returns (Rule memory);

    /// @notice Whether the home token was paused, as last synced.
    function paused() external view returns (bool);

    /// @notice Whether the home deployment is permissioned, as last synced.
    function permissioned() external view returns (bool);

    /// @notice Whether `account` is on the home allowlist, as last synced.
    function isAllowed(address account) external view returns (bool);

    /// @notice Whether `account` is frozen at home, as last synced.
    function isFrozen(address account) external view returns (bool);

    /// @notice Whether project `projectId` is Suspended or Terminated at home, as last synced.
    function isProjectRestricted(uint64 projectId) external view returns (bool);

    /// @notice The chain the credits come from.
    function originChainId() external view returns (uint256);

    /// @notice The credit token on `originChainId` whose ids this mirror carries.
    function originToken() external view returns (address);

    /// @notice The bound bridge (zero until bound).
    function bridge() external view returns (address);

    /// @notice The batch metadata of `id` (a zero projectId when none arrived yet).
    function metadataOf(uint256 id) external view returns (BatchMetadata memory);

    /// @notice Units of `id` in circulation here.
    function totalSupply(uint256 id) external view returns (uint256);

    /// @notice Units of `id` retired here.
    function totalRetired(uint256 id) external view returns (uint256);

    /// @notice Number of retirements made here.
    function retirementCount() external view returns (uint256);
}
