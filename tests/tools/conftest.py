"""Fixtures for the tools package: real SQLite files holding the seeded demo shop.

The shop is seeded once per session into a template file; each test that writes gets its own copy.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.tools.store_fixtures import Shop, build_shop, open_shop
from tools.demo_data import SeedReport


@pytest.fixture(scope="session")
def shop_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SeedReport]:
    path = tmp_path_factory.mktemp("shop-template") / "shop.db"
    shop = build_shop(path)
    shop.engine.dispose()  # closing the last connection folds the WAL into the file, so it copies whole
    return path, shop.report


@pytest.fixture(scope="module")
def shop_ro(
    shop_template: tuple[Path, SeedReport], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Shop]:
    """One shop shared by the read-only tests of a module; tests that write use `shop`."""
    path = tmp_path_factory.mktemp("shop-ro") / "shop.db"
    shutil.copyfile(shop_template[0], path)
    shop = open_shop(path, shop_template[1])
    yield shop
    shop.engine.dispose()


@pytest.fixture
def make_shop(shop_template: tuple[Path, SeedReport], tmp_path: Path) -> Iterator[Callable[..., Shop]]:
    made: list[Shop] = []

    def make(name: str = "shop.db", journal_mode: str = "wal") -> Shop:
        shutil.copyfile(shop_template[0], tmp_path / name)
        made.append(open_shop(tmp_path / name, shop_template[1], journal_mode))
        return made[-1]

    yield make
    for shop in made:
        shop.engine.dispose()


@pytest.fixture
def shop(make_shop: Callable[..., Shop]) -> Shop:
    return make_shop()
