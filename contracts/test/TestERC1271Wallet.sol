// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {ERC1155Holder} from "@openzeppelin/contracts/token/ERC1155/utils/ERC1155Holder.sol";

import {TestAccount} from "./TestAccount.sol";

/// @notice Test-only EIP-1271 contract wallet: approves a hash signed by its owner while `approving` is on, and
/// can stop approving at any time (as a real wallet whose signer was rotated or whose policy changed). In
/// `approveAll` mode it approves every hash, whatever the signature (used only to make many fills cheaply).
contract TestERC1271Wallet is IERC1271, ERC1155Holder, TestAccount {
    address public immutable owner;
    bool public approving = true;
    bool public approveAll;

    constructor(address owner_) {
        owner = owner_;
    }

    /// @notice Turns approval of the owner's signatures on or off.
    function setApproving(bool on) external {
        approving = on;
    }

    /// @notice Turns approval of every hash on or off.
    function setApproveAll(bool on) external {
        approveAll = on;
    }

    /// @inheritdoc IERC1271
    function isValidSignature(bytes32 hash, bytes calldata signature) external view returns (bytes4) {
        if (approveAll) return IERC1271.isValidSignature.selector;
        if (!approving) return 0xffffffff;
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecoverCalldata(hash, signature);
        return err == ECDSA.RecoverError.NoError && signer == owner ? IERC1271.isValidSignature.selector : bytes4(0xffffffff);
    }
}
