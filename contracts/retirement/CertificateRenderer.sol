// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Base64} from "@openzeppelin/contracts/utils/Base64.sol";
import {Strings} from "@openzeppelin/contracts/utils/Strings.sol";

import {ICarbonRetirement} from "../interfaces/ICarbonRetirement.sol";
import {ICertificateRenderer} from "../interfaces/ICertificateRenderer.sol";
import {CreditIds} from "../libraries/CreditIds.sol";

/// @title CertificateRenderer
/// @notice Renders a retirement certificate's metadata (JSON with an SVG image, as a data URI). Stateless and pure:
/// CarbonRetirement deploys it in its constructor and calls it from `tokenURI`, which keeps CarbonRetirement under
/// the 24,576-byte code size limit.
contract CertificateRenderer is ICertificateRenderer {
    using Strings for uint256;
    using Strings for address;

    /// @inheritdoc ICertificateRenderer
    function tokenURI(uint256 certificateId, ICarbonRetirement.CertificateView calldata c)
        external
        pure
        returns (string memory)
    {
        string memory tonnes = _tonnes(c.totalAmount);
        string memory json = string.concat(
            '{"name":"Tonne retirement certificate #',
            certificateId.toString(),
            '","description":"',
            tonnes,
            " t CO2e retired for good. Beneficiary name, reason, jurisdiction and every id and amount: the",
            ' RetirementRecorded event of this certificate.","image":"data:image/svg+xml;base64,',
            Base64.encode(bytes(_svg(certificateId, c, tonnes))),
            '",',
            _jsonFields(c, tonnes),
            "}"
        );
        return string.concat("data:application/json;base64,", Base64.encode(bytes(json)));
    }

    function _jsonFields(ICarbonRetirement.CertificateView calldata c, string memory tonnes) private pure returns (string memory) {
        return string.concat(
            '"beneficiary":"',
            c.beneficiary.toHexString(),
            '","retiring_account":"',
            c.retiringAccount.toHexString(),
            '","first_id":"',
            c.firstId.toString(),
            '","id_count":',
            uint256(c.idCount).toString(),
            ',"amount_units":"',
            c.totalAmount.toString(),
            '","amount_tonnes":"',
            tonnes,
            '","purpose":"',
            c.purpose == ICarbonRetirement.Purpose.Compliance ? "compliance" : "voluntary",
            '","country":"',
            string(abi.encodePacked(c.country)),
            '","period_start":',
            uint256(c.periodStart).toString(),
            ',"period_end":',
            uint256(c.periodEnd).toString(),
            ',"timestamp":',
            uint256(c.timestamp).toString()
        );
    }

    function _svg(uint256 certificateId, ICarbonRetirement.CertificateView calldata c, string memory tonnes)
        private
        pure
        returns (string memory)
    {
        return string.concat(
            '<svg xmlns="http://www.w3.org/2000/svg" width="600" height="340" viewBox="0 0 600 340">',
            '<rect width="600" height="340" rx="18" fill="#f4f8f1" stroke="#2f6b3a" stroke-width="6"/>',
            '<text x="300" y="58" font-family="Georgia,serif" font-size="26" text-anchor="middle" fill="#1f4727">',
            "Retirement certificate #",
            certificateId.toString(),
            '</text><text x="300" y="130" font-family="Georgia,serif" font-size="44" text-anchor="middle"',
            ' fill="#1f4727">',
            tonnes,
            ' t CO2e</text><text x="300" y="168" font-family="sans-serif" font-size="15" text-anchor="middle"',
            ' fill="#333">retired for good in ',
            string(abi.encodePacked(c.country)),
            c.purpose == ICarbonRetirement.Purpose.Compliance ? " (compliance)" : "",
            '</text><text x="40" y="230" font-family="monospace" font-size="12" fill="#333">beneficiary ',
            c.beneficiary.toHexString(),
            '</text><text x="40" y="252" font-family="monospace" font-size="12" fill="#333">retired by  ',
            c.retiringAccount.toHexString(),
            '</text><text x="40" y="274" font-family="monospace" font-size="12" fill="#333">first id    ',
            c.firstId.toString(),
            '</text><text x="40" y="296" font-family="monospace" font-size="12" fill="#333">unix time   ',
            uint256(c.timestamp).toString(),
            "</text></svg>"
        );
    }

    /// @dev Units (kg) as tonnes with up to three decimals: 1500 -> "1.5".
    function _tonnes(uint256 units) private pure returns (string memory text) {
        text = (units / CreditIds.UNITS_PER_TONNE).toString();
        uint256 kg = units % CreditIds.UNITS_PER_TONNE;
        if (kg == 0) return text;
        bytes memory frac = bytes((kg + 1000).toString()); // "1xyz": keeps the leading zeros of xyz
        uint256 len = 4;
        while (frac[len - 1] == "0") --len;
        bytes memory trimmed = new bytes(len - 1);
        for (uint256 i = 1; i < len; ++i) {
            trimmed[i - 1] = frac[i];
        }
        return string.concat(text, ".", string(trimmed));
    }
}
