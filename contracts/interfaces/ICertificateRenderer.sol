// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ICarbonRetirement} from "./ICarbonRetirement.sol";

/// @title ICertificateRenderer
/// @notice Renders a retirement certificate's ERC-721 metadata from its stored fields.
interface ICertificateRenderer {
    /// @notice The certificate's metadata: a `data:application/json;base64,` URI whose JSON holds every stored
    /// field (beneficiary, retiring account, first id, id count, amount in units and tonnes, purpose, country,
    /// period, timestamp) and an SVG image.
    /// @param certificateId The certificate's id (shown in its name and image).
    /// @param c The certificate's stored fields, as `ICarbonRetirement.certificate` returns them.
    /// @return The data URI.
    function tokenURI(uint256 certificateId, ICarbonRetirement.CertificateView calldata c)
        external
        pure
        returns (string memory);
}
