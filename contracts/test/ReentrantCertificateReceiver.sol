// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC721Receiver} from "@openzeppelin/contracts/token/ERC721/IERC721Receiver.sol";

import {ReentrantReceiver} from "./ReentrantReceiver.sol";

/// @notice Test-only attacker: a ReentrantReceiver that also implements the ERC-721 receiver hook, and replays
/// its armed call from there too. Made the beneficiary of a retirement, it shows whether minting a certificate
/// runs any receiver hook (CarbonRetirement uses `_mint`, so `attempts` must stay 0).
contract ReentrantCertificateReceiver is ReentrantReceiver, IERC721Receiver {
    /// @notice Replays the armed call (once), recording the outcome as the ERC-1155 hooks do, then accepts the
    /// ERC-721 token.
    function onERC721Received(address, address, uint256, bytes calldata) external returns (bytes4) {
        _reenter();
        return IERC721Receiver.onERC721Received.selector;
    }
}
