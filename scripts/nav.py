"""``ape run nav ASSET [--set PRICE | --move PERCENT] [--advance DURATION]
[--refresh]``: strike a NAV on the local world's oracle (local networks
only), so a stale NAV is fresh again, or a NAV moves.

- no option: refresh: the current NAV struck again now (a stale NAV is
  fresh again);
- ``--set 10.25``: strike that NAV, in USD per fund share;
- ``--move -3%``: strike the current NAV moved by a percentage (or a
  fraction: -0.03);
- ``--advance 1d``: first move the local chain's time (on anvil: a block
  mined that much later: evm_setNextBlockTimestamp + anvil_mine); alone it
  strikes nothing (the NAV ages), with --set, --move or --refresh it
  strikes after. The oracle takes a strike only 20h after the last one:
  the refusal says how far to advance.

The wrapper's NAV is its fund's (fund B): --set and --move give the
fund's NAV, and the wrapper's price follows. Shows the NAV, its age and
the price the market uses before → after, and the borrowers the strike
makes liquidatable (asked first, --yes skips). Signed by the oracle's
updater (without --account, the local test account that is the updater);
a move beyond the oracle's 1 % bound is confirmed by its guardian in the
same run.

Examples::

    ape run nav fund_a                       # refresh a stale NAV
    ape run nav fund_a --move -3% --advance 1d
    ape run nav wrapper --set 1.01 --dry-run
"""

import click

from navlend.cli import localnav
from navlend.cli.options import NavlendCommand, asset_argument, common_options, run


@click.command(cls=NavlendCommand, epilog="\b\nExamples:\n  ape run nav fund_a\n  ape run nav fund_a --move -3% --advance 1d")
@common_options
@asset_argument()
@click.option("--set", "set_price", metavar="PRICE", help="Strike this NAV, in USD per fund share: 10.25.")
@click.option("--move", metavar="PERCENT", help="Strike the current NAV moved by this much: -3%, +0.5%, -0.03.")
@click.option(
    "--advance",
    metavar="DURATION",
    help="First move the local chain's time (anvil): 3600, 90m, 20h, 1d. Alone it strikes nothing.",
)
@click.option("--refresh", is_flag=True, help="With --advance: strike the current NAV again after it.")
def cli(network, account, json_output, yes, asset, set_price, move, advance, refresh):
    """Strike or refresh ASSET's NAV on the local world's oracle (local only)."""
    run(
        localnav.nav,
        network,
        account,
        json_output,
        yes,
        asset=asset,
        set_price=set_price,
        move=move,
        advance=advance,
        refresh=refresh,
        explicit_account=account is not None,
    )
