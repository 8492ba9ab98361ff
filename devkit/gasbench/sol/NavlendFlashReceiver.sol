// SPDX-License-Identifier: AGPL-3.0-only
pragma solidity 0.8.19;

// The gas scenario's minimal ERC-3156 flash borrower for navlend's market:
// it takes a flash loan and, in the callback, approves the lender for the
// amount plus the fee from its own balance. Built with the same compiler
// and settings as Morpho's FlashBorrowerMock and the Aave receiver, so the
// three flash-loan figures differ only by the protocols. Benchmark fixture
// only (compiled at bench time with solc-js; never part of the contracts).

interface IApproveToken {
    function approve(address spender, uint256 amount) external returns (bool);
}

interface IERC3156Lender {
    function flashLoan(address receiver, address token, uint256 amount, bytes calldata data) external returns (bool);
}

contract NavlendFlashReceiver {
    bytes32 private constant CALLBACK_SUCCESS = keccak256("ERC3156FlashBorrower.onFlashLoan");
    address private immutable LENDER;

    constructor(address lender) {
        LENDER = lender;
    }

    function flash(address token, uint256 amount) external {
        IERC3156Lender(LENDER).flashLoan(address(this), token, amount, "");
    }

    function onFlashLoan(address, address token, uint256 amount, uint256 fee, bytes calldata)
        external
        returns (bytes32)
    {
        require(msg.sender == LENDER, "lender only");
        IApproveToken(token).approve(LENDER, amount + fee);
        return CALLBACK_SUCCESS;
    }
}
