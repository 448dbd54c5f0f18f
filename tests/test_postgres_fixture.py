"""The PostgreSQL fixture starts a real server that SQLAlchemy can talk to."""

from __future__ import annotations

import socket

import pytest
import sqlalchemy

from tests.fixtures.postgres import PostgresServer

pytestmark = pytest.mark.postgres


def test_select_one(postgres_url: str) -> None:
    assert postgres_url.startswith("postgresql+psycopg://")
    engine = sqlalchemy.create_engine(postgres_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sqlalchemy.text("select 1")).scalar_one() == 1
            assert conn.execute(sqlalchemy.text("select current_database()")).scalar_one() == "mesyx"
    finally:
        engine.dispose()


def test_server_is_unprivileged_and_loopback_only(postgres_server: PostgresServer, postgres_url: str) -> None:
    engine = sqlalchemy.create_engine(postgres_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sqlalchemy.text("show listen_addresses")).scalar_one() == "127.0.0.1"
            assert conn.execute(sqlalchemy.text("select current_user")).scalar_one() != "root"
    finally:
        engine.dispose()
    assert postgres_server.socket_dir.is_relative_to(postgres_server.base)


def test_create_database_gives_an_isolated_database(postgres_server: PostgresServer) -> None:
    url = postgres_server.create_database("fixture_check")
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sqlalchemy.text("create table t (x int)"))
            conn.execute(sqlalchemy.text("insert into t values (7)"))
        with engine.connect() as conn:
            assert conn.execute(sqlalchemy.text("select x from t")).scalar_one() == 7
    finally:
        engine.dispose()


def test_free_port_is_bindable(free_port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", free_port))
