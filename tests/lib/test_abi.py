"""The compiled ABIs the Python binds to (navlend/abi.py, navlend/abi/*.json),
without a chain.

- drift: the committed ABI files are what ``devkit.tools.abi_files``
  produces from the contracts now (fails when a struct field is renamed or
  reordered in Vyper and ``make abi`` was forgotten);
- binding drift: every Python dataclass that mirrors an ABI struct or tuple
  has the ABI's field names, order and types (fails when the files were
  regenerated but the Python was not);
- the codecs: selectors and topics against values computed independently
  (eth-utils on the raw JSON entry, well-known ERC-20 values), calldata and
  return data through eth-abi, unknown names and overloads.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, fields
from pathlib import Path
from typing import get_type_hints

import pytest
from eth_abi import encode
from eth_utils import event_abi_to_log_topic, function_signature_to_4byte_selector, keccak
from eth_utils.abi import collapse_if_tuple

from devkit.tools import abi_files
from keepers import chain as keeper_chain
from keepers.types import AccountHealth
from navlend import abi
from navlend.cli import contracts as cli_contracts
from navlend.cli.records import AssetListing, AssetView, Control, Holding, MarketView, Position

TOKEN = "0x" + "fa" * 20
ORACLE = "0x" + "0a" * 20


@pytest.fixture(scope="module")
def generated() -> dict[str, str]:
    """The ABI files as the generator produces them from the contracts now."""
    return abi_files.generate()


def _entries(contract: str) -> list[dict]:
    """The raw entries of a committed ABI file (read here, not through navlend.abi)."""
    return json.loads((abi.ABI_DIR / f"{contract}.json").read_text())


def _entry(contract: str, kind: str, name: str, arity: int | None = None) -> dict:
    found = [
        e for e in _entries(contract)
        if e["type"] == kind and e["name"] == name and (arity is None or len(e["inputs"]) == arity)
    ]
    assert len(found) == 1, f"{contract}.{name}: {len(found)} entries"
    return found[0]


def _signature(entry: dict) -> str:
    return f"{entry['name']}({','.join(collapse_if_tuple(p) for p in entry['inputs'])})"


def _copy_of_the_files(tmp_path: Path) -> Path:
    copy = tmp_path / "abi"
    shutil.copytree(abi.ABI_DIR, copy)
    return copy


def _edit(folder: Path, name: str, change) -> None:
    path = folder / name
    entries = json.loads(path.read_text())
    change(entries)
    path.write_text(abi_files.render(entries))


def _components(entries: list[dict], function: str) -> list[dict]:
    (entry,) = [e for e in entries if e["type"] == "function" and e["name"] == function]
    return entry["outputs"][0]["components"]


# ---------------------------------------------------------------- #
#                     drift: files vs contracts                     #
# ---------------------------------------------------------------- #


def test_abi_files__match_the_contracts(generated):
    stale = abi_files.stale_files(abi.ABI_DIR, generated)
    assert stale == [], f"navlend/abi is stale ({', '.join(stale)}): run `make abi`"


def _rename_health_factor(entries):
    _components(entries, "healths")[4]["name"] = "health"


def _swap_threshold_and_bonus(entries):
    fields_ = _components(entries, "asset_config")
    fields_[4], fields_[5] = fields_[5], fields_[4]


@pytest.mark.parametrize(
    ("name", "change"),
    [("Lens.json", _rename_health_factor), ("IMarketViews.json", _swap_threshold_and_bonus)],
    ids=["field renamed", "fields reordered"],
)
def test_abi_files__struct_changed_in_a_copy__named_stale(generated, tmp_path, name, change):
    copy = _copy_of_the_files(tmp_path)
    _edit(copy, name, change)
    assert abi_files.stale_files(copy, generated) == [name]


def test_abi_files__file_missing_and_file_extra__both_named(generated, tmp_path):
    copy = _copy_of_the_files(tmp_path)
    (copy / "Lens.json").unlink()
    (copy / "Gone.json").write_text("[]\n")
    assert abi_files.stale_files(copy, generated) == ["Gone.json", "Lens.json"]


def test_abi_files_check__stale_copy__exit_1_naming_it_and_nothing_written(tmp_path, capsys):
    copy = _copy_of_the_files(tmp_path)
    _edit(copy, "Lens.json", _rename_health_factor)
    before = (copy / "Lens.json").read_text()
    assert abi_files.main(["--check", "--dir", str(copy)]) == 1
    assert "Lens.json" in capsys.readouterr().err
    assert (copy / "Lens.json").read_text() == before


def test_abi_files_write__stale_copy__brought_to_the_contracts(generated, tmp_path):
    copy = _copy_of_the_files(tmp_path)
    _edit(copy, "Lens.json", _rename_health_factor)
    (copy / "Gone.json").write_text("[]\n")
    assert abi_files.main(["--dir", str(copy)]) == 0
    assert abi_files.stale_files(copy, generated) == []


# ---------------------------------------------------------------- #
#                binding drift: dataclasses vs files                #
# ---------------------------------------------------------------- #


def _python_type(abi_type: str) -> type:
    """The Python type a binding holds an ABI value as."""
    if abi_type == "address":
        return str
    if abi_type == "bool":
        return bool
    if abi_type.startswith(("uint", "int")) and "[" not in abi_type:
        return int
    raise AssertionError(f"no Python type for {abi_type}")


def _assert_types(cls: type, struct: abi.Struct, names) -> None:
    hints = get_type_hints(cls)
    for name in names:
        wanted = _python_type(struct.component(name).type)
        assert hints[name] in (wanted, wanted | None), f"{cls.__name__}.{name} is no {wanted}"


def test_binding__account_health__the_lens_structs_fields_in_order():
    struct = abi.function("Lens", "healths").output_struct
    names = [f.name for f in fields(AccountHealth)]
    assert names == list(struct.names), f"AccountHealth {names}; the ABI {list(struct.names)}"
    _assert_types(AccountHealth, struct, names)


def test_binding__keeper_asset_config_read__asset_config_fields_in_its_order():
    struct = abi.function("IMarketViews", "asset_config").output_struct
    names = [f.name for f in fields(keeper_chain.AssetConfigRead)]
    assert set(names) <= set(struct.names), f"not in the ABI: {set(names) - set(struct.names)}"
    assert names == sorted(names, key=struct.index), f"not in {struct.label}'s order: {names}"
    _assert_types(keeper_chain.AssetConfigRead, struct, names)


# Vyper gives the outputs of a bare tuple return no names (control() is an
# unnamed 7-tuple): a binding can only be held to the arity and the types.
@pytest.mark.parametrize(
    ("cls", "function"),
    [
        (Control, abi.function("IMarketViews", "control")),
        (cli_contracts.BookState, abi.function("IMarketViews", "market_state")),
        (cli_contracts.RoundData, abi.function("IAggregatorV3", "latestRoundData")),
    ],
    ids=["control", "market_state", "latestRoundData"],
)
def test_binding__unnamed_tuple__same_arity_and_types(cls, function):
    hints = get_type_hints(cls)
    name = cls.__name__
    assert len(fields(cls)) == len(function.outputs), f"{name} binds {function.label}'s outputs"
    for field, output in zip(fields(cls), function.outputs):
        assert output.name in ("", field.name), f"{name}.{field.name} is the output {output.name}"
        assert hints[field.name] is _python_type(output.type), f"{name}.{field.name}: {output.type}"


_SNAPSHOT = abi.function("Lens", "snapshot").output_struct
_ASSET_CONFIG = abi.function("IMarketViews", "asset_config").output_struct
_POSITION = abi.function("IMarketViews", "position").output_struct
_ASSET_SNAPSHOT = abi.Struct("Lens.AssetSnapshot", _SNAPSHOT.component("assets").components)


@pytest.mark.parametrize(
    ("names", "struct", "cls"),
    [
        (cli_contracts._ASSET_FIGURES, _ASSET_SNAPSHOT, AssetView),
        (cli_contracts._BOOK_FIGURES, _SNAPSHOT, MarketView),
        (cli_contracts._LISTING_FIGURES, _ASSET_CONFIG, AssetListing),
        (cli_contracts._HOLDING_FIGURES, _ASSET_CONFIG, Holding),
        (cli_contracts._POSITION_FIGURES, _POSITION, Position),
    ],
    ids=["AssetView", "MarketView", "AssetListing", "Holding", "Position"],
)
def test_binding__cli_figures__fields_of_the_struct_and_of_the_dataclass(names, struct, cls):
    # The CLI copies these by name from Ape's struct values into ``cls``.
    assert set(names) <= set(struct.names), f"not in the ABI: {set(names) - set(struct.names)}"
    assert list(names) == sorted(names, key=struct.index), f"not in {struct.label}'s order: {names}"
    assert set(names) <= {f.name for f in fields(cls)}, f"not fields of {cls.__name__}: {names}"
    _assert_types(cls, struct, names)


def test_binding__debt_events__debtor_and_amount_arguments_in_the_abi():
    for event, debtor, amount in cli_contracts._DEBT_EVENTS:
        assert event.topic_position(debtor) == 2
        assert {amount, "scaled_debt"} <= set(event.data_struct.names)


# ---------------------------------------------------------------- #
#                     selectors, topics, codecs                     #
# ---------------------------------------------------------------- #


@pytest.mark.parametrize(
    ("contract", "name", "arity"),
    [
        ("IMarketViews", "asset_config", None),
        ("Lens", "healths", None),
        ("FlashLiquidator", "liquidate", 4),
        ("FlashLiquidator", "liquidate_many", None),
        ("IMarket", "liquidate", 6),
    ],
)
def test_function_selector__eth_utils_on_the_raw_entry(contract, name, arity):
    entry = _entry(contract, "function", name, arity)
    function = abi.function(contract, name, arity)
    assert function.signature == _signature(entry)
    assert function.selector == function_signature_to_4byte_selector(_signature(entry))


@pytest.mark.parametrize(
    ("name", "selector"),
    [("balanceOf", "70a08231"), ("decimals", "313ce567"), ("transfer", "a9059cbb")],
)
def test_function_selector__well_known_erc20_values(name, selector):
    assert abi.function("ERC20", name).selector.hex() == selector


def test_event_topic__well_known_erc20_transfer():
    transfer = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
    assert abi.event("ERC20", "Transfer").topic == transfer


@pytest.mark.parametrize(
    ("contract", "name"),
    [
        ("FlashLiquidator", "Liquidated"),
        ("FlashLiquidator", "BatchLiquidated"),
        ("FlashLiquidator", "LiquidationSkipped"),
        ("MarketEvents", "Borrow"),
        ("MarketEvents", "Liquidate"),
    ],
)
def test_event_topic__keccak_of_the_raw_entrys_signature(contract, name):
    entry = _entry(contract, "event", name)
    assert abi.event(contract, name).topic == "0x" + keccak(text=_signature(entry)).hex()
    assert abi.event(contract, name).topic == "0x" + event_abi_to_log_topic(entry).hex()


def test_keeper_topics_and_calldata__from_the_abi():
    assert keeper_chain.LIQUIDATED_TOPIC == abi.event("FlashLiquidator", "Liquidated").topic
    assert keeper_chain.event_topics(["Borrow"]) == [abi.event("MarketEvents", "Borrow").topic]


def test_function_encode__asset_config__selector_then_the_argument():
    function = abi.function("IMarketViews", "asset_config")
    assert function.encode(TOKEN) == function.selector + encode(["address"], [TOKEN])


def test_function_decode__asset_config__fields_read_by_name():
    function = abi.function("IMarketViews", "asset_config")
    config = (TOKEN, ORACLE, "0x" + "00" * 20, 8_500, 9_000, 300, 10**30, 0, 360_000, True, 7)
    (values,) = function.decode(encode(list(function.output_types), [config]))
    record = function.output_struct.record(values)
    assert (record.oracle, record.threshold_bps, record.bonus_bps) == (ORACLE, 9_000, 300)
    assert record.frozen is True
    read = function.output_struct.build(keeper_chain.AssetConfigRead, values)
    assert (read.oracle, read.facility, read.frozen) == (ORACLE, "0x" + "00" * 20, True)


def test_function_encode__wrong_argument_count__raises_naming_the_function():
    with pytest.raises(ValueError, match=r"asset_config\(address\) takes 1 arguments, got 2"):
        abi.function("IMarketViews", "asset_config").encode(TOKEN, TOKEN)


def test_function_encode__value_not_of_its_type__raises_naming_the_function():
    with pytest.raises(ValueError, match=r"IMarketViews.asset_at\(uint256\)"):
        abi.function("IMarketViews", "asset_at").encode("zero")


def test_function_decode__short_return_data__raises_naming_the_function():
    with pytest.raises(ValueError, match="asset_config.*return data"):
        abi.function("IMarketViews", "asset_config").decode(b"\x00" * 31)


def test_contract__unknown_name__raises_listing_the_known_ones():
    with pytest.raises(abi.AbiError, match=r"no ABI named 'IMarkets'.*IMarketViews"):
        abi.contract("IMarkets")


def test_function__unknown_name__raises():
    with pytest.raises(abi.AbiError, match=r"IMarketViews has no function 'asset_cfg'.*asset_conf"):
        abi.function("IMarketViews", "asset_cfg")


def test_event__unknown_name__raises():
    with pytest.raises(abi.AbiError, match=r"FlashLiquidator has no event 'Liquidate'.*Liquidated"):
        abi.event("FlashLiquidator", "Liquidate")


def test_struct__unknown_field__raises_listing_the_fields():
    with pytest.raises(abi.AbiError, match=r"has no field 'threshold'.*threshold_bps"):
        abi.function("IMarketViews", "asset_config").output_struct.index("threshold")


def test_struct_build__dataclass_with_a_field_the_struct_lacks__raises_naming_it():
    @dataclass(frozen=True)
    class Renamed:
        oracle: str
        bonus: int

    struct = abi.function("IMarketViews", "asset_config").output_struct
    with pytest.raises(abi.AbiError, match="Renamed reads bonus from IMarketViews.asset_config"):
        struct.build(Renamed, (TOKEN,) * 11)


def test_function_output_struct__bare_tuple__raises():
    with pytest.raises(abi.AbiError, match=r"control\(\) returns uint256.*not a struct"):
        abi.function("IMarketViews", "control").output_struct  # noqa: B018


def test_function_outputs_as__dataclass_of_another_arity__raises():
    with pytest.raises(abi.AbiError, match=r"BookState has 5 fields; .*control\(\) returns"):
        abi.function("IMarketViews", "control").outputs_as(cli_contracts.BookState, range(7))


def _overloaded() -> abi.ContractAbi:
    """Market's and FlashLiquidator's ``liquidate`` in one ABI: an overload
    by arity."""
    return abi.ContractAbi.from_entries(
        "Liquidators",
        [
            _entry("IMarket", "function", "liquidate"),
            _entry("FlashLiquidator", "function", "liquidate"),
        ],
    )


def test_function__overloaded_without_arity__raises_naming_the_overloads():
    with pytest.raises(abi.AbiError, match=r"overloaded \(liquidate\(address,.*,bool,address\), "):
        _overloaded().function("liquidate")


@pytest.mark.parametrize(
    ("arity", "signature"),
    [
        (4, "liquidate(address,address,uint256,uint256)"),
        (6, "liquidate(address,address,uint256,uint256,bool,address)"),
    ],
)
def test_function__overloaded_with_arity__the_one_of_that_arity(arity, signature):
    function = _overloaded().function("liquidate", arity=arity)
    assert function.signature == signature
    assert function.selector == function_signature_to_4byte_selector(signature)


def test_function__overloaded_arity_absent__raises_naming_the_overloads():
    with pytest.raises(abi.AbiError, match="no liquidate with 5 inputs"):
        _overloaded().function("liquidate", arity=5)


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ({"type": "function"}, "a list of entries"),
        ([{"name": "f"}], "malformed ABI entry"),
        ([{"type": "function", "inputs": []}], "function entry without a name"),
        ([{"type": "event", "name": "E", "inputs": [{"name": "x"}]}], "Broken.E: malformed ABI"),
    ],
    ids=["not a list", "no type", "no name", "parameter without a type"],
)
def test_contract_from_entries__malformed__raises_saying_what(entries, message):
    with pytest.raises(ValueError, match=message):
        abi.ContractAbi.from_entries("Broken", entries)


# ---------------------------------------------------------------- #
#                      struct layout, event logs                    #
# ---------------------------------------------------------------- #


def test_struct_offsets__account_health__where_eth_abi_puts_each_field():
    struct = abi.function("Lens", "healths").output_struct
    values = tuple(
        "0x" + f"{i + 1:040x}" if t == "address" else (True if t == "bool" else 1_000 + i)
        for i, t in enumerate(struct.types)
    )
    raw = encode([f"({','.join(struct.types)})"], [values])
    assert struct.size == len(raw)
    for name, value in zip(struct.names, values):
        word = raw[struct.offset(name) : struct.offset(name) + abi.WORD]
        assert word == encode([struct.component(name).type], [value])


def test_struct_offsets__nested_static_components__where_eth_abi_puts_them():
    components = [
        {"name": "a", "type": "uint256"},
        {
            "name": "pair",
            "type": "tuple",
            "components": [{"name": "b", "type": "bool"}, {"name": "c", "type": "address"}],
        },
        {"name": "twice", "type": "uint16[2]"},
        {"name": "d", "type": "uint8"},
    ]
    function = abi.ContractAbi.from_entries("Nested", [
        {"type": "function", "name": "f", "inputs": [], "stateMutability": "view",
         "outputs": [{"name": "", "type": "tuple", "components": components}]},
    ]).function("f")
    struct = function.output_struct
    raw = encode(list(function.output_types), [(1, (True, TOKEN), (2, 3), 4)])
    assert [struct.offset(n) for n in struct.names] == [0, 32, 96, 160]
    assert struct.size == len(raw) == 192
    assert raw[160:192] == encode(["uint8"], [4])


def test_struct_size__dynamic_struct__raises_naming_the_dynamic_field():
    with pytest.raises(abi.AbiError, match=r"Lens.snapshot is dynamic \(assets\)"):
        abi.function("Lens", "snapshot").output_struct.offset("cash")


def _topic(address: str) -> bytes:
    return encode(["address"], [address])


def test_event_decode__liquidation_skipped__indexed_and_data_by_name():
    event = abi.event("FlashLiquidator", "LiquidationSkipped")
    borrower = "0x" + "b0" * 20
    topics = [event.topic, _topic(borrower), _topic(TOKEN)]
    args = event.decode(topics, encode(["bytes"], [b"\x12\x34"]))
    assert (args.borrower, args.token, args.reason) == (borrower, TOKEN, b"\x12\x34")


def test_event_decode__another_events_log__raises():
    event = abi.event("FlashLiquidator", "LiquidationSkipped")
    other = abi.event("FlashLiquidator", "Liquidated").topic
    with pytest.raises(ValueError, match="not a FlashLiquidator.LiquidationSkipped"):
        event.decode([other, _topic(TOKEN), _topic(TOKEN)], encode(["bytes"], [b""]))


def test_event_decode__topic_missing__raises():
    event = abi.event("FlashLiquidator", "LiquidationSkipped")
    with pytest.raises(ValueError, match="2 indexed arguments; the log has 1 topics"):
        event.decode([event.topic, _topic(TOKEN)], encode(["bytes"], [b""]))


def test_event_encode_topic__indexed_address__its_word_and_place():
    event = abi.event("MarketEvents", "Repay")
    assert event.encode_topic("on_behalf", TOKEN) == "0x" + _topic(TOKEN).hex()
    assert event.topic_position("on_behalf") == 2


def test_event_encode_topic__argument_not_indexed__raises():
    with pytest.raises(abi.AbiError, match=r"no indexed argument 'amount' \(indexed: caller, on"):
        abi.event("MarketEvents", "Repay").encode_topic("amount", 1)
