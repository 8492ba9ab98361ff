// SPDX-License-Identifier: AGPL-3.0-only
pragma solidity 0.8.19;

// The gas scenario's minimal Aave v3 flash-loan receiver: it takes a
// `flashLoanSimple` and, in the callback, approves the pool for the amount
// plus the premium from its own balance, as navlend's and Morpho's minimal
// receivers do. Benchmark fixture only (compiled at bench time with solc-js;
// never part of the project's contracts).

interface IApprove {
    function approve(address spender, uint256 amount) external returns (bool);
}

interface IPoolFlashLoanSimple {
    function flashLoanSimple(
        address receiverAddress,
        address asset,
        uint256 amount,
        bytes calldata params,
        uint16 referralCode
    ) external;
}

contract AaveFlashReceiver {
    address private immutable POOL;

    constructor(address pool) {
        POOL = pool;
    }

    function flash(address asset, uint256 amount) external {
        IPoolFlashLoanSimple(POOL).flashLoanSimple(address(this), asset, amount, "", 0);
    }

    function executeOperation(
        address asset,
        uint256 amount,
        uint256 premium,
        address,
        bytes calldata
    ) external returns (bool) {
        require(msg.sender == POOL, "pool only");
        IApprove(asset).approve(POOL, amount + premium);
        return true;
    }
}
