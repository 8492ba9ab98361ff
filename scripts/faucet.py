"""``ape run faucet``: local networks only. The issuer (test account 0, the
deployer) allowlists an account on every fund and mints it the stablecoin,
fund A, fund B, fund C and wrapper shares. Refused on any other network.
The market lists fund A, fund C and the wrapper; fund B shares are for
wrapping (the market refuses a dividend fund raw).

Examples::

    ape run faucet --account TEST::4
    ape run faucet --to 0x90F79bf6EB2c4f870365E785982E1f101E93b906 --usdc 5000 --wrapper 0
"""

import click
from ape import accounts


from navlend.cli import admin
from navlend.cli.errors import Refusal
from navlend.cli.options import NavlendCommand, common_options, run


@click.command(cls=NavlendCommand)
@common_options
@click.option("--to", "to", metavar="ADDRESS", help="Account to fund (default: --account).")
@click.option(
    "--usdc", default=admin.FAUCET_DEFAULTS["usdc"], show_default=True, help="Stablecoin to mint."
)
@click.option(
    "--fund-a",
    default=admin.FAUCET_DEFAULTS["fund_a"],
    show_default=True,
    help="Fund A shares to mint.",
)
@click.option(
    "--fund-b",
    default=admin.FAUCET_DEFAULTS["fund_b"],
    show_default=True,
    help="Fund B shares to mint (the wrapper's underlying, not listed raw).",
)
@click.option(
    "--fund-c",
    default=admin.FAUCET_DEFAULTS["fund_c"],
    show_default=True,
    help="Fund C shares to mint.",
)
@click.option(
    "--wrapper",
    default=admin.FAUCET_DEFAULTS["wrapper"],
    show_default=True,
    help="Wrapper shares to mint.",
)
def cli(network, account, json_output, yes, to, usdc, fund_a, fund_b, fund_c, wrapper):
    """Fund an account with mock tokens and allowlist it (local networks only).

    Amounts are whole human units of each token ("0" skips one); the
    issuer (TEST::0) signs. The receiver is --to, else --account.

    \b
    Examples:
      ape run faucet --account TEST::4
      ape run faucet --to TEST::3 --fund-a 0 --fund-b 0 --fund-c 0 --wrapper 0
    """
    if not network.is_local:
        raise Refusal(f"the faucet mints mock tokens: local networks only, not '{network.name}'")
    issuer = accounts.test_accounts[0]
    receiver = to or (account.address if account else issuer.address)
    amounts = {"usdc": usdc, "fund_a": fund_a, "fund_b": fund_b, "fund_c": fund_c, "wrapper": wrapper}
    run(
        admin.faucet,
        network,
        account,
        json_output,
        yes,
        as_account=issuer,
        to=receiver,
        amounts=amounts,
    )
