// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AccessControlDefaultAdminRules} from
    "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {IERC7786Recipient} from "@openzeppelin/contracts/interfaces/draft-IERC7786.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {InteroperableAddress} from "@openzeppelin/contracts/utils/draft-InteroperableAddress.sol";

import {ITonneGateway} from "../interfaces/ITonneGateway.sol";

/// @title TonneGateway
/// @notice An ERC-7786 gateway whose messages are proven by M-of-N validator attestations (EIP-712).
/// @dev One contract plays both roles: source (`sendMessage`) and destination (`deliver`). Invariants:
/// - a message id is delivered at most once, and is marked processed before the recipient runs;
/// - a delivery counts only distinct current validators (signers strictly increasing), each signature a valid
///   low-s ECDSA signature over this chain's and this gateway's EIP-712 domain;
/// - threshold stays within 1..validatorCount.
/// No function loops over storage: `deliver` loops over the signatures its caller supplies, the constructor over
/// its initial validator list.
contract TonneGateway is ITonneGateway, AccessControlDefaultAdminRules, EIP712 {
    /// @notice Pauses and resumes the gateway.
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");
    /// @notice EIP-712 type of what validators sign.
    bytes32 public constant ATTESTATION_TYPEHASH = keccak256(
        "Attestation(uint256 sourceChainId,address sourceGateway,address sender,address recipient,uint256 nonce,"
        "bytes32 payloadHash)"
    );

    // One slot: read together by deliver (paused, threshold) and by the validator admin (count, threshold).
    bool private _paused;
    uint64 private _threshold;
    uint64 private _validatorCount;
    uint64 private _nonce;

    mapping(address account => bool) private _validators;
    mapping(bytes32 messageId => bool) private _processed;

    /// @param validators The initial validator set (distinct, non-zero).
    /// @param threshold_ Signatures a delivery needs, 1..validators.length.
    /// @param adminDelay Seconds the two-step admin transfer waits.
    /// @param admin The DEFAULT_ADMIN_ROLE holder (manages validators and threshold).
    constructor(address[] memory validators, uint256 threshold_, uint48 adminDelay, address admin)
        AccessControlDefaultAdminRules(adminDelay, admin)
        EIP712("TonneGateway", "1")
    {
        for (uint256 i; i < validators.length; ++i) {
            _addValidator(validators[i]);
        }
        _setThreshold(threshold_);
    }

    modifier whenNotPaused() {
        if (_paused) revert GatewayPaused();
        _;
    }

    // ------------------------------------------------------------------ source side (ERC-7786)

    /// @notice This gateway supports no ERC-7786 attribute.
    function supportsAttribute(bytes4) external pure returns (bool) {
        return false;
    }

    /// @notice Numbers the message and emits `MessageSent` with its id; validators attest it off-chain.
    /// @param recipient ERC-7930 interoperable address of the destination contract (EVM chain, 20-byte address).
    /// @param payload The message body.
    /// @param attributes Must be empty: no attribute is supported.
    /// @return sendId The message id, `messageIdOf(block.chainid, address(this), nonce)`.
    function sendMessage(bytes calldata recipient, bytes calldata payload, bytes[] calldata attributes)
        external
        payable
        whenNotPaused
        returns (bytes32 sendId)
    {
        if (msg.value != 0) revert GatewayValueNotSupported(msg.value);
        if (attributes.length != 0) revert UnsupportedAttribute(bytes4(attributes[0]));
        (bool ok, uint256 chainId, address to) = InteroperableAddress.tryParseEvmV1Calldata(recipient);
        if (!ok || to == address(0) || chainId == 0 || chainId == block.chainid) {
            revert GatewayInvalidRecipient(recipient);
        }
        uint256 nonce;
        // Cannot overflow: one message per call would need 2^64 calls.
        unchecked {
            nonce = ++_nonce;
        }
        sendId = _messageId(block.chainid, address(this), nonce);
        emit MessageSent(
            sendId,
            InteroperableAddress.formatEvmV1(block.chainid, msg.sender),
            InteroperableAddress.formatEvmV1(chainId, to),
            payload,
            0,
            attributes
        );
        emit MessageNumbered(sendId, nonce, chainId);
    }

    // ------------------------------------------------------------------ destination side

    /// @inheritdoc ITonneGateway
    function deliver(Message calldata message, bytes[] calldata signatures)
        external
        whenNotPaused
        returns (bytes32 messageId)
    {
        messageId = _messageId(message.sourceChainId, message.sourceGateway, message.nonce);
        if (_processed[messageId]) revert GatewayMessageAlreadyProcessed(messageId);
        _checkSignatures(_attestationDigest(message), signatures);

        // Effects before the interaction: a recipient (or anything it calls) re-delivering this message finds
        // it processed.
        _processed[messageId] = true;
        emit MessageDelivered(
            messageId,
            message.sourceChainId,
            message.sourceGateway,
            message.sender,
            message.recipient,
            message.nonce,
            msg.sender
        );
        bytes4 returned = IERC7786Recipient(message.recipient).receiveMessage(
            messageId, InteroperableAddress.formatEvmV1(message.sourceChainId, message.sender), message.payload
        );
        if (returned != IERC7786Recipient.receiveMessage.selector) {
            revert GatewayRecipientRejected(message.recipient, returned);
        }
    }

    // ------------------------------------------------------------------ administration

    /// @inheritdoc ITonneGateway
    function addValidator(address account) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _addValidator(account);
    }

    /// @inheritdoc ITonneGateway
    function removeValidator(address account) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (!_validators[account]) revert GatewayValidatorUnchanged(account, false);
        uint256 remaining = _validatorCount - 1;
        if (remaining < _threshold) revert GatewayInvalidThreshold(_threshold, remaining);
        _validators[account] = false;
        _validatorCount = uint64(remaining);
        emit ValidatorRemoved(account, remaining);
    }

    /// @inheritdoc ITonneGateway
    function setThreshold(uint256 threshold_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setThreshold(threshold_);
    }

    /// @inheritdoc ITonneGateway
    function pause() external onlyRole(PAUSER_ROLE) {
        if (_paused) revert GatewayPauseUnchanged(true);
        _paused = true;
        emit GatewayPausedBy(msg.sender);
    }

    /// @inheritdoc ITonneGateway
    function unpause() external onlyRole(PAUSER_ROLE) {
        if (!_paused) revert GatewayPauseUnchanged(false);
        _paused = false;
        emit GatewayUnpausedBy(msg.sender);
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc ITonneGateway
    function attestationDigest(Message calldata message) external view returns (bytes32) {
        return _attestationDigest(message);
    }

    /// @inheritdoc ITonneGateway
    function messageIdOf(uint256 sourceChainId, address sourceGateway, uint256 nonce) external pure returns (bytes32) {
        return _messageId(sourceChainId, sourceGateway, nonce);
    }

    /// @inheritdoc ITonneGateway
    function isProcessed(bytes32 messageId) external view returns (bool) {
        return _processed[messageId];
    }

    /// @inheritdoc ITonneGateway
    function outboundNonce() external view returns (uint256) {
        return _nonce;
    }

    /// @inheritdoc ITonneGateway
    function isValidator(address account) external view returns (bool) {
        return _validators[account];
    }

    /// @inheritdoc ITonneGateway
    function validatorCount() external view returns (uint256) {
        return _validatorCount;
    }

    /// @inheritdoc ITonneGateway
    function threshold() external view returns (uint256) {
        return _threshold;
    }

    /// @inheritdoc ITonneGateway
    function paused() external view returns (bool) {
        return _paused;
    }

    // ------------------------------------------------------------------ internals

    function _checkSignatures(bytes32 digest, bytes[] calldata signatures) private view {
        uint256 n = signatures.length;
        if (n < _threshold) revert GatewayNotEnoughSignatures(n, _threshold);
        address previous;
        for (uint256 i; i < n; ++i) {
            // OpenZeppelin's ECDSA refuses high-s signatures and a zero recovered address (as errors).
            (address signer, ECDSA.RecoverError err, bytes32 detail) = ECDSA.tryRecoverCalldata(digest, signatures[i]);
            if (err != ECDSA.RecoverError.NoError) revert GatewayInvalidSignature(i, uint8(err), detail);
            if (signer <= previous) revert GatewaySignersNotIncreasing(i, signer, previous);
            if (!_validators[signer]) revert GatewayNotValidator(i, signer);
            previous = signer;
        }
    }

    function _attestationDigest(Message calldata m) private view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(
                    ATTESTATION_TYPEHASH,
                    m.sourceChainId,
                    m.sourceGateway,
                    m.sender,
                    m.recipient,
                    m.nonce,
                    keccak256(m.payload)
                )
            )
        );
    }

    function _messageId(uint256 sourceChainId, address sourceGateway, uint256 nonce) private pure returns (bytes32) {
        return keccak256(abi.encode(sourceChainId, sourceGateway, nonce));
    }

    function _addValidator(address account) private {
        if (account == address(0) || _validators[account]) revert GatewayValidatorUnchanged(account, true);
        _validators[account] = true;
        uint256 count = _validatorCount + 1;
        _validatorCount = uint64(count);
        emit ValidatorAdded(account, count);
    }

    function _setThreshold(uint256 threshold_) private {
        uint256 count = _validatorCount;
        if (threshold_ == 0 || threshold_ > count) revert GatewayInvalidThreshold(threshold_, count);
        uint256 previous = _threshold;
        if (threshold_ == previous) return;
        _threshold = uint64(threshold_);
        emit ThresholdChanged(previous, threshold_);
    }
}
