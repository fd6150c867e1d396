// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC7786GatewaySource} from "@openzeppelin/contracts/interfaces/draft-IERC7786.sol";

/// @title ITonneGateway
/// @notice Tonne's attested ERC-7786 gateway for local chains and testnets. On the source chain `sendMessage`
/// numbers each message and emits `MessageSent`; off-chain validators watch that event and sign an EIP-712
/// `Attestation` of it; on the destination chain anyone may `deliver` the message with at least `threshold`
/// of those signatures, and the gateway hands it to the recipient's ERC-7786 `receiveMessage`.
/// @dev The attestation binds the source chain, the source gateway, the source contract (sender), the
/// destination contract (recipient), the nonce and the payload hash; the destination chain and gateway are
/// bound by the EIP-712 domain (chainId, verifyingContract). A message id is
/// `keccak256(abi.encode(sourceChainId, sourceGateway, nonce))`: the same on both chains, and at most one message
/// per id is ever delivered, whatever the validators sign.
/// Warning: any `threshold` validators together can deliver any message they like: they are trusted as a group.
/// The admin chooses the validators and the threshold; the PAUSER can stop sending and delivery. Recipients
/// must still check who sent a message (the sender is authenticated by the attestation, not its meaning).
interface ITonneGateway is IERC7786GatewaySource {
    /// @notice A message as it is delivered on the destination chain.
    /// @param sourceChainId The chain the message was sent on.
    /// @param sourceGateway The gateway that numbered it there.
    /// @param sender The contract that called `sendMessage` on the source chain.
    /// @param recipient The destination contract, an ERC-7786 recipient on this chain.
    /// @param nonce The source gateway's number for the message (from 1).
    /// @param payload The message body, handed to the recipient unchanged.
    struct Message {
        uint256 sourceChainId;
        address sourceGateway;
        address sender;
        address recipient;
        uint256 nonce;
        bytes payload;
    }

    /// @notice `sendMessage` was called with a non-zero value; this gateway carries no value.
    error GatewayValueNotSupported(uint256 value);
    /// @notice The recipient's interoperable address is not an EVM address on another chain.
    error GatewayInvalidRecipient(bytes recipient);
    /// @notice The message is not addressed to this chain.
    error GatewayWrongDestination(uint256 chainId);
    /// @notice Message `messageId` was delivered already.
    error GatewayMessageAlreadyProcessed(bytes32 messageId);
    /// @notice `count` signatures were given; the threshold is `threshold`.
    error GatewayNotEnoughSignatures(uint256 count, uint256 threshold);
    /// @notice Signature `index` is malformed or has a high s (ECDSA recover error `reason`, with `detail`).
    error GatewayInvalidSignature(uint256 index, uint8 reason, bytes32 detail);
    /// @notice Signature `index` recovers to `signer`, which is not above the previous signer `previous`:
    /// signers must be sorted in strictly increasing address order (so no validator counts twice).
    error GatewaySignersNotIncreasing(uint256 index, address signer, address previous);
    /// @notice Signature `index` recovers to `signer`, which is not a current validator.
    error GatewayNotValidator(uint256 index, address signer);
    /// @notice The recipient did not return the ERC-7786 `receiveMessage` selector.
    error GatewayRecipientRejected(address recipient, bytes4 returned);
    /// @notice `account` is already a validator (or, for removal, is not one), or is the zero address.
    error GatewayValidatorUnchanged(address account, bool isValidator);
    /// @notice A threshold of `threshold` is impossible with `validatorCount` validators (it must be 1..count).
    error GatewayInvalidThreshold(uint256 threshold, uint256 validatorCount);
    /// @notice The gateway is paused.
    error GatewayPaused();
    /// @notice A batch of `messages` messages came with `signatureLists` signature lists; they must pair up.
    error GatewayBatchLengthMismatch(uint256 messages, uint256 signatureLists);
    /// @notice Batch item `index` needs `gasNeeded` gas left to be delivered with the batch's gas per message;
    /// `gasLeft` was left. The whole batch reverts: send it with more gas.
    error GatewayBatchGasTooLow(uint256 index, uint256 gasLeft, uint256 gasNeeded);
    /// @notice `deliverFromBatch` was called by `caller`; only the gateway itself may call it.
    error GatewayOnlySelf(address caller);
    /// @notice The delivery to `recipient` reverted without a reason (out of gas, an invalid opcode).
    error GatewayRecipientFailed(address recipient);
    /// @notice In a batch, the delivery to `recipient` reverted with `reason`, which is the encoding of one of this
    /// gateway's own errors (`GatewayMessageAlreadyProcessed`) that the gateway did not find: the recipient's
    /// bytes, wrapped so that they can never pass for the gateway's word.
    error GatewayRecipientReverted(address recipient, bytes reason);
    /// @notice The pause is already in the requested state.
    error GatewayPauseUnchanged(bool paused);

    /// @notice Message `sendId` got nonce `nonce` and is bound for chain `destinationChainId`; emitted with
    /// ERC-7786's `MessageSent`, which has no field for the nonce that validators need to attest the message.
    event MessageNumbered(bytes32 indexed sendId, uint256 indexed nonce, uint256 indexed destinationChainId);
    /// @notice Message `messageId` (nonce `nonce` of `sourceGateway` on `sourceChainId`) was delivered to
    /// `recipient` on behalf of `sender`; `relayer` paid for it.
    event MessageDelivered(
        bytes32 indexed messageId,
        uint256 indexed sourceChainId,
        address sourceGateway,
        address sender,
        address indexed recipient,
        uint256 nonce,
        address relayer
    );
    /// @notice Batch item `index`, message `messageId`, was not delivered, for `reason` (the ABI-encoded custom
    /// error a single `deliver` of it would revert with, at most 356 bytes of it). Nothing changed for that
    /// message: unless the reason is `GatewayMessageAlreadyProcessed`, it can still be delivered later. That
    /// reason is only ever the gateway's own finding (the id is processed): a recipient reverting with those bytes
    /// is reported as `GatewayRecipientReverted(recipient, bytes)`. Other reasons may come from the recipient.
    event MessageSkipped(bytes32 indexed messageId, uint256 index, bytes reason);
    /// @notice `account` became a validator; the set now has `validatorCount` members.
    event ValidatorAdded(address indexed account, uint256 validatorCount);
    /// @notice `account` stopped being a validator: its signatures count for nothing from now on.
    event ValidatorRemoved(address indexed account, uint256 validatorCount);
    /// @notice The number of signatures a delivery needs changed from `previous` to `threshold`.
    event ThresholdChanged(uint256 previous, uint256 threshold);
    /// @notice Sending and delivery were paused by `account`.
    event GatewayPausedBy(address indexed account);
    /// @notice Sending and delivery were resumed by `account`.
    event GatewayUnpausedBy(address indexed account);

    /// @notice Delivers `message` with `signatures` (65 bytes each, r||s||v) of at least `threshold` current
    /// validators over its `attestationDigest`, sorted by signer address, strictly increasing. Anyone may call.
    /// Marks the message id processed, then calls the recipient's `receiveMessage`; if the recipient reverts,
    /// the whole delivery reverts and the message can be delivered later.
    /// @return messageId The delivered message's id.
    function deliver(Message calldata message, bytes[] calldata signatures) external returns (bytes32 messageId);

    /// @notice Delivers many messages in one transaction, each checked and marked processed on its own, exactly as
    /// `deliver` would, with `signatures[i]` for `messages[i]`. Anyone may call. A message that `deliver` would
    /// refuse (already processed, also twice in this batch; too few or bad signatures; a recipient that reverts,
    /// e.g. rate-limited) is skipped: `MessageSkipped` names it and the reason, its processed mark is undone with
    /// the rest of its delivery, and the batch goes on. Each delivery runs in its own call with exactly
    /// `gasPerMessage` gas, so a message's outcome does not depend on the batch it is in or on the gas the caller
    /// gave: a recipient that burns gas spends at most `gasPerMessage` of the batch, and a message needing more
    /// (a refusal with `BridgeDeliveryGasTooLow`) is delivered alone with `deliver`.
    /// @dev Loops only over the calldata the caller supplies. Reverts (nothing delivered) only when paused, when
    /// the lists differ in length (`GatewayBatchLengthMismatch`), or when the caller's gas runs short of an item's
    /// `gasPerMessage` (`GatewayBatchGasTooLow`).
    /// @param messages The messages, in any order.
    /// @param signatures For each message, the signatures `deliver` takes.
    /// @param gasPerMessage Gas each delivery runs with (e.g. 500,000).
    /// @return outcomes For each message, empty when delivered, else the reason it was skipped.
    function deliverBatch(Message[] calldata messages, bytes[][] calldata signatures, uint256 gasPerMessage)
        external
        returns (bytes[] memory outcomes);

    /// @notice One delivery of a batch, run in its own call so that a refusal undoes it alone. Only the gateway
    /// itself (from `deliverBatch`, after checking the signatures) may call it.
    /// @param message The message.
    /// @param messageId Its id.
    /// @param relayer The account that called `deliverBatch`, named in `MessageDelivered`.
    function deliverFromBatch(Message calldata message, bytes32 messageId, address relayer) external;

    /// @notice Makes `account` a validator. Only the admin.
    function addValidator(address account) external;

    /// @notice Removes validator `account`; refused if fewer validators than the threshold would remain.
    /// Only the admin.
    function removeValidator(address account) external;

    /// @notice Sets how many validator signatures a delivery needs (1..validatorCount). Only the admin.
    function setThreshold(uint256 threshold) external;

    /// @notice Stops `sendMessage` and `deliver`. Only PAUSER.
    function pause() external;

    /// @notice Resumes `sendMessage` and `deliver`. Only PAUSER.
    function unpause() external;

    /// @notice The EIP-712 digest validators sign for `message` delivered through this gateway.
    function attestationDigest(Message calldata message) external view returns (bytes32);

    /// @notice The id of nonce `nonce` of `sourceGateway` on `sourceChainId`.
    function messageIdOf(uint256 sourceChainId, address sourceGateway, uint256 nonce) external pure returns (bytes32);

    /// @notice Whether message `messageId` was delivered here.
    function isProcessed(bytes32 messageId) external view returns (bool);

    /// @notice The number of messages sent through this gateway so far (the last nonce used).
    function outboundNonce() external view returns (uint256);

    /// @notice Whether `account` is a current validator.
    function isValidator(address account) external view returns (bool);

    /// @notice The number of current validators.
    function validatorCount() external view returns (uint256);

    /// @notice The number of validator signatures a delivery needs.
    function threshold() external view returns (uint256);

    /// @notice Whether the gateway is paused.
    function paused() external view returns (bool);
}
