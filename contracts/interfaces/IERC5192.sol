// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title IERC5192
/// @notice ERC-5192 minimal soulbound NFTs: a token that is `locked` cannot be transferred.
interface IERC5192 {
    /// @notice Emitted when the locking status is changed to locked.
    event Locked(uint256 tokenId);
    /// @notice Emitted when the locking status is changed to unlocked.
    event Unlocked(uint256 tokenId);

    /// @notice Whether `tokenId` is locked (for Tonne certificates: always).
    function locked(uint256 tokenId) external view returns (bool);
}
