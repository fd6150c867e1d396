// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC1155Holder} from "@openzeppelin/contracts/token/ERC1155/utils/ERC1155Holder.sol";

import {TestAccount} from "./TestAccount.sol";

/// @notice Test-only: a contract that accepts ERC-1155 credits and can pass them on (`execute`).
contract AcceptingReceiver is ERC1155Holder, TestAccount {}
