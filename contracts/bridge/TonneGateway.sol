// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AccessControlDefaultAdminRules} from
    "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {IERC7786Recipient} from "@openzeppelin/contracts/interfaces/draft-IERC7786.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {InteroperableAddress} from "@openzeppelin/contracts/utils/draft-InteroperableAddress.sol";

import {ITonneGateway} from "../interfaces/ITonneGateway.sol";
import {ExactGasCall} from "../libraries/ExactGasCall.sol";

/// @title TonneGateway
/// @notice An ERC-7786 gateway whose messages are proven by M-of-N validator attestations (EIP-712).
/// @dev One contract plays both roles: source (`sendMessage`) and destination (`deliver`). Invariants:
/// - a message id is delivered at most once, and is marked processed before the recipient runs;
/// - a delivery counts only distinct current validators (signers strictly increasing), each signature a valid
///   low-s ECDSA signature over this chain's and this gateway's EIP-712 domain;
/// - threshold stays within 1..validatorCount.
/// - in a batch (`deliverBatch`) each message is checked and delivered on its own: one refused message is
///   reported (`MessageSkipped`) and stays deliverable, and the others go through.
/// No function loops over storage: `deliver` loops over the signatures its caller supplies, `deliverBatch` over
/// the messages and signatures its caller supplies, the constructor over its initial validator list.
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

    /// @dev Gas kept back per batch item for the call itself (at most 2,600 plus memory) and the bookkeeping
    /// after it.
    uint256 private constant _CALL_RESERVE = 20_000;

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
        _receive(message, messageId, msg.sender);
    }

    /// @inheritdoc ITonneGateway
    function deliverBatch(Message[] calldata messages, bytes[][] calldata signatures, uint256 gasPerMessage)
        external
        whenNotPaused
        returns (bytes[] memory outcomes)
    {
        uint256 n = messages.length;
        if (signatures.length != n) revert GatewayBatchLengthMismatch(n, signatures.length);
        outcomes = new bytes[](n);
        for (uint256 i; i < n; ++i) {
            Message calldata message = messages[i];
            bytes32 messageId = _messageId(message.sourceChainId, message.sourceGateway, message.nonce);
            bytes memory refusal;
            if (_processed[messageId]) {
                // Reported, not reverted: a message delivered by someone else (or twice in this batch) must not
                // cost the batch its other messages.
                refusal = abi.encodeWithSelector(GatewayMessageAlreadyProcessed.selector, messageId);
            } else {
                refusal = _signatureError(_attestationDigest(message), signatures[i]);
            }
            if (refusal.length == 0) refusal = _receiveIsolated(i, message, messageId, gasPerMessage);
            if (refusal.length != 0) {
                outcomes[i] = refusal;
                emit MessageSkipped(messageId, i, refusal);
            }
        }
    }

    /// @inheritdoc ITonneGateway
    function deliverFromBatch(Message calldata message, bytes32 messageId, address relayer) external {
        if (msg.sender != address(this)) revert GatewayOnlySelf(msg.sender);
        // Checked again: an earlier message's recipient may have delivered this one in the meantime.
        if (_processed[messageId]) revert GatewayMessageAlreadyProcessed(messageId);
        _receive(message, messageId, relayer);
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

    /// @dev Marks `messageId` processed, emits `MessageDelivered`, then hands the message to its recipient.
    /// Effects before the interaction: a recipient (or anything it calls) re-delivering this message finds it
    /// processed.
    function _receive(Message calldata message, bytes32 messageId, address relayer) private {
        _processed[messageId] = true;
        emit MessageDelivered(
            messageId,
            message.sourceChainId,
            message.sourceGateway,
            message.sender,
            message.recipient,
            message.nonce,
            relayer
        );
        bytes4 returned = IERC7786Recipient(message.recipient).receiveMessage(
            messageId, InteroperableAddress.formatEvmV1(message.sourceChainId, message.sender), message.payload
        );
        if (returned != IERC7786Recipient.receiveMessage.selector) {
            revert GatewayRecipientRejected(message.recipient, returned);
        }
    }

    /// @dev Delivers batch item `index` in a call to this gateway (`deliverFromBatch`) with exactly `itemGas`: a
    /// refusal reverts that call alone (its processed mark with it), so the message stays deliverable. Returns
    /// empty on success, else the first `ExactGasCall.MAX_REASON` bytes of the refusal. Reverts the whole batch
    /// when fewer than `itemGas` can be forwarded: the caller's shortfall must not be mistaken for the message's
    /// refusal.
    function _receiveIsolated(uint256 index, Message calldata message, bytes32 messageId, uint256 itemGas)
        private
        returns (bytes memory reason)
    {
        bytes memory data = abi.encodeCall(this.deliverFromBatch, (message, messageId, msg.sender));
        // Checked after the encoding, right before the call, which gets all but 1/64 of what is left (EIP-150):
        // with this much, it gets `itemGas` in full.
        uint256 needed = ExactGasCall.gasNeeded(itemGas, _CALL_RESERVE);
        uint256 left = gasleft();
        if (left < needed) revert GatewayBatchGasTooLow(index, left, needed);
        // A bounded prefix of a refusal: a recipient reverting with a huge reason must not make the batch pay for it.
        bool ok;
        (ok, reason) = ExactGasCall.callExact(address(this), itemGas, data);
        if (ok) return reason;
        // The call reverted, and its processed mark with it: the id is processed now only if it was before the
        // call, which is what deliverFromBatch's own check (behind the loop's) refuses it for. Said by the
        // gateway from its own state, never copied from the recipient's bytes.
        if (_processed[messageId]) return abi.encodeWithSelector(GatewayMessageAlreadyProcessed.selector, messageId);
        // A revert without data (out of gas, an invalid opcode) is reported as GatewayRecipientFailed.
        if (reason.length == 0) return abi.encodeWithSelector(GatewayRecipientFailed.selector, message.recipient);
        // The id is not processed: a GatewayMessageAlreadyProcessed here is the recipient's, never the gateway's.
        if (bytes4(reason) == GatewayMessageAlreadyProcessed.selector) {
            reason = abi.encodeWithSelector(GatewayRecipientReverted.selector, message.recipient, reason);
        }
    }

    /// @dev Reverts with the reason `_signatureError` gives, if any.
    function _checkSignatures(bytes32 digest, bytes[] calldata signatures) private view {
        bytes memory error_ = _signatureError(digest, signatures);
        if (error_.length != 0) {
            assembly ("memory-safe") {
                revert(add(error_, 0x20), mload(error_))
            }
        }
    }

    /// @dev Empty when `signatures` are at least `threshold` valid signatures of distinct current validators over
    /// `digest`, sorted by signer; otherwise the encoded custom error that says why not.
    function _signatureError(bytes32 digest, bytes[] calldata signatures) private view returns (bytes memory) {
        uint256 n = signatures.length;
        if (n < _threshold) return abi.encodeWithSelector(GatewayNotEnoughSignatures.selector, n, _threshold);
        address previous;
        for (uint256 i; i < n; ++i) {
            // OpenZeppelin's ECDSA refuses high-s signatures and a zero recovered address (as errors).
            (address signer, ECDSA.RecoverError err, bytes32 detail) = ECDSA.tryRecoverCalldata(digest, signatures[i]);
            if (err != ECDSA.RecoverError.NoError) {
                return abi.encodeWithSelector(GatewayInvalidSignature.selector, i, uint8(err), detail);
            }
            if (signer <= previous) {
                return abi.encodeWithSelector(GatewaySignersNotIncreasing.selector, i, signer, previous);
            }
            if (!_validators[signer]) return abi.encodeWithSelector(GatewayNotValidator.selector, i, signer);
            previous = signer;
        }
        return "";
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
