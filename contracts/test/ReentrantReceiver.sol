// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC1155Receiver} from "@openzeppelin/contracts/token/ERC1155/IERC1155Receiver.sol";
import {ERC165} from "@openzeppelin/contracts/utils/introspection/ERC165.sol";

import {TestAccount} from "./TestAccount.sol";

/// @notice Test-only attacker: from inside `onERC1155Received` / `onERC1155BatchReceived` it replays a call
/// prepared in advance (e.g. another issuance, or a transfer of what it is being sent) against `target`.
/// It records whether the re-entrant call succeeded and its revert data, then accepts the transfer, so a test
/// can assert exactly what the re-entry achieved.
contract ReentrantReceiver is ERC165, IERC1155Receiver, TestAccount {
    address public target;
    bytes public payload;
    bool public armed;
    uint256 public attempts;
    bool public lastSucceeded;
    bytes public lastRevertData;

    /// @notice Prepares the call to replay on the next receipt.
    function arm(address target_, bytes calldata payload_) external {
        target = target_;
        payload = payload_;
        armed = true;
    }

    /// @notice Replays the armed call (once), then accepts the single transfer.
    function onERC1155Received(address, address, uint256, uint256, bytes calldata) external returns (bytes4) {
        _reenter();
        return this.onERC1155Received.selector;
    }

    /// @notice Replays the armed call (once), then accepts the batch transfer.
    function onERC1155BatchReceived(address, address, uint256[] calldata, uint256[] calldata, bytes calldata)
        external
        returns (bytes4)
    {
        _reenter();
        return this.onERC1155BatchReceived.selector;
    }

    /// @dev Replays the armed call once and records its outcome (every hook of this family calls it).
    function _reenter() internal {
        if (!armed) return;
        armed = false; // one attempt per arming, so the hook cannot recurse forever
        ++attempts;
        (bool ok, bytes memory ret) = target.call(payload);
        lastSucceeded = ok;
        lastRevertData = ret;
    }
}
