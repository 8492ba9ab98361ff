"""``ape console`` extras for navlend: loads ``deployments/<network>.json``
for the connected network, prints a banner of what it adds, and injects the
market, the periphery, the tokens and the verbs ``lend``, ``withdraw``,
``deposit``, ``withdraw_collateral``, ``borrow``, ``repay``, ``leverage``,
``unwind``, ``position`` and ``market_state`` (the same checks and risk
previews as the ``ape run`` commands; see navlend/cli/console.py).

    In [1]: borrower = accounts.test_accounts[4]
    In [2]: deposit(borrower, "fund_a", "1000")
    In [3]: borrow(borrower, "5000")
    In [4]: position(borrower)
"""

# Underscored: Ape adds every name of this module to the console as well.
from navlend.cli.console import namespace as _namespace
from navlend.cli.errors import Refusal as _Refusal


def ape_init_extras(networks):
    try:
        return _namespace(networks.provider.network.name, show_banner=True)
    except _Refusal as refusal:
        print(f"navlend: {refusal.message}")
        return {}
