"""The keeper's compliance reads over markets whose fund tokens have no
``is_allowlisted`` / ``is_frozen`` (USTB, OUSG): it asks the market's
compliance source for the asset (SuperstateCompliance, OndoCompliance),
and the token itself only when the market has none.

- ``ChainReader.is_allowlisted`` / ``is_frozen`` per asset;
- ``Keeper._execution_context``: the signer's allowlisted tokens, which
  open the seize route to it, as the keeper computes them each refresh.
"""

import pytest

from issuer_markets import ondo_market, superstate_market
from keepers.chain import ChainReader
from keepers.config import load_config
from keepers.index import PositionIndex
from keepers.keeper import Keeper
from keepers.metrics import HealthState, KeeperMetrics
from navlend import abi
from navlend.market import deploy_local_market

ZERO = "0x" + "00" * 20


@pytest.fixture(scope="session")
def market_owner(accounts):
    """Owns the issuers' markets (neither issuer)."""
    return accounts[14]


@pytest.fixture
def ss(project, ustb, stablecoin, deployer, market_owner, guardian, treasury):
    return superstate_market(project, ustb, stablecoin, deployer, market_owner, guardian, treasury)


@pytest.fixture
def ou(project, ondo, market_owner, guardian, treasury):
    return ondo_market(project, ondo, market_owner, guardian, treasury)


def reader_of(chain, market) -> ChainReader:
    return ChainReader(chain.provider.web3, market.address, market.address, decode_logs=lambda raw: [], event_topics=[])


def keeper_of(reader, signer, tmp_path) -> Keeper:
    config = load_config(env={
        "NAVLEND_KEEPER_MARKET": reader.market, "NAVLEND_KEEPER_LENS": reader.lens,
        # Only the context's reads are exercised: no FlashLiquidator is called.
        "NAVLEND_KEEPER_FLASH_LIQUIDATOR": reader.market, "NAVLEND_KEEPER_SIGNER_ALIAS": "TEST::0",
    })
    return Keeper(config=config, reader=reader, index=PositionIndex(tmp_path / "index.sqlite", reader.market),
                  tx=None, metrics=KeeperMetrics(), health=HealthState(), signer=signer.address,
                  base_token=reader.read_address(reader.market, abi.function("IMarketViews", "asset")))


def allowlisted_tokens(chain, market, signer, tmp_path) -> frozenset[str]:
    """What the keeper's next execution context holds for ``signer``."""
    reader = reader_of(chain, market)
    keeper = keeper_of(reader, signer, tmp_path)
    ctx = keeper._execution_context(reader.head(), reader.market_terms())
    return ctx.allowlisted_tokens


# ---- USTB: SuperstateCompliance over the AllowList ----


def test_reader__ustb_allowed_entity__allowlisted_through_the_adapter(ss, ustb, chain, liquidator, outsider):
    reader = reader_of(chain, ss.market)
    assert reader.compliance_source(ustb.token.address) == ustb.compliance.address
    assert reader.is_allowlisted(ustb.token.address, liquidator.address)
    assert not reader.is_frozen(ustb.token.address, liquidator.address)
    assert not reader.is_allowlisted(ustb.token.address, outsider.address)


def test_keeper__ustb__allowlisted_signer_seen_unadmitted_one_not(ss, ustb, chain, liquidator, outsider, tmp_path):
    assert allowlisted_tokens(chain, ss.market, liquidator, tmp_path) == {ustb.token.address}
    assert allowlisted_tokens(chain, ss.market, outsider, tmp_path) == frozenset()


def test_keeper__ustb_signer_removed_from_allow_list__no_longer_allowlisted(
    ss, ustb, chain, deployer, liquidator, tmp_path
):
    ustb.allow_list.setEntityIdForAddress(0, liquidator, sender=deployer)
    assert allowlisted_tokens(chain, ss.market, liquidator, tmp_path) == frozenset()


def test_reader__ustb_market_without_source__falls_back_to_the_token_which_answers_nothing(
    ss, ustb, chain, market_owner, liquidator
):
    """USTB has no compliance views: with no source on the market, the
    keeper cannot count on holding it (the seize route stays shut)."""
    ss.market.set_asset_compliance(ustb.token, ZERO, sender=market_owner)
    reader = reader_of(chain, ss.market)
    assert reader.compliance_source(ustb.token.address) is None
    assert not reader.is_allowlisted(ustb.token.address, liquidator.address)
    assert not reader.is_frozen(ustb.token.address, liquidator.address)


# ---- OUSG: OndoCompliance over the KYC registry ----


def test_keeper__ousg__kyc_signer_seen_unadmitted_one_not(ou, ondo, chain, liquidator, outsider, tmp_path):
    ondo.kyc(liquidator)
    reader = reader_of(chain, ou.market)
    assert reader.compliance_source(ondo.ousg.address) == ou.compliance.address
    assert allowlisted_tokens(chain, ou.market, liquidator, tmp_path) == {ondo.ousg.address}
    assert allowlisted_tokens(chain, ou.market, outsider, tmp_path) == frozenset()


def test_keeper__ousg_signer_sanctioned__no_longer_allowlisted(ou, ondo, chain, liquidator, tmp_path):
    ondo.kyc(liquidator)
    ondo.registry.set_sanctioned(liquidator, True, sender=ondo.admin)
    assert allowlisted_tokens(chain, ou.market, liquidator, tmp_path) == frozenset()


# ---- the local world: fund tokens are their own source ----


def test_reader__local_market_source_cleared__falls_back_to_the_fund_token(
    world, chain, deployer, guardian, treasury, liquidator, outsider
):
    market = deploy_local_market(world, deployer, guardian=guardian, treasury=treasury)
    reader = reader_of(chain, market)
    assert reader.compliance_source(world.fund_a.address) == world.fund_a.address
    assert reader.compliance_source(world.wrapper.address) == world.fund_b.address
    market.set_asset_compliance(world.fund_a, ZERO, sender=deployer)
    assert reader.compliance_source(world.fund_a.address) is None
    assert reader.is_allowlisted(world.fund_a.address, liquidator.address)
    assert not reader.is_allowlisted(world.fund_a.address, outsider.address)
    world.fund_a.freeze(liquidator, sender=deployer)
    assert reader.is_frozen(world.fund_a.address, liquidator.address)
