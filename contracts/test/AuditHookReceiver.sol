// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {SingleOnlyReceiver} from "./SingleOnlyReceiver.sol";
import {TestAccount} from "./TestAccount.sol";

/// @notice Test-only (audit of batched delivery): an ERC-1155 receiver whose hook either accepts after running
/// through `depth` nested external calls that burn `burn` gas at the bottom (a wallet behind proxies and
/// handlers), or reverts with exactly `revertData` (any bytes the owner chooses). It can also act as an account
/// (`execute`), e.g. to send its credits over a bridge.
contract AuditHookReceiver is SingleOnlyReceiver, TestAccount {
    uint256 public depth;
    uint256 public burn;
    bytes public revertData;
    uint256 public received;

    /// @notice Sets the nesting depth of the hook and the gas it burns at the bottom.
    /// @param depth_ Nested external calls below the hook.
    /// @param burn_ Gas burnt in the innermost call.
    function setShape(uint256 depth_, uint256 burn_) external {
        depth = depth_;
        burn = burn_;
    }

    /// @notice Makes the hook revert with exactly `data` (empty: accept again).
    /// @param data The revert data.
    function setRevertData(bytes calldata data) external {
        revertData = data;
    }

    /// @notice One level of the nested hook; reverts without data when the level below fails (like a proxy).
    /// @param level Levels still to go.
    function step(uint256 level) external {
        if (level == 0) {
            _burnGas(burn);
            return;
        }
        (bool ok,) = address(this).call(abi.encodeCall(this.step, (level - 1)));
        if (!ok) revert();
    }

    /// @notice Reverts with `revertData` when set, else runs the nested shape and accepts.
    function onERC1155Received(address, address, uint256, uint256 value, bytes calldata) external returns (bytes4) {
        bytes memory data = revertData;
        if (data.length != 0) {
            assembly ("memory-safe") {
                revert(add(data, 32), mload(data))
            }
        }
        if (depth != 0 || burn != 0) {
            (bool ok,) = address(this).call(abi.encodeCall(this.step, (depth)));
            if (!ok) revert();
        }
        received += value;
        return this.onERC1155Received.selector;
    }
}
