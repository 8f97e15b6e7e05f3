"""Exit 0 when the PostgreSQL server of the given URL accepts a connection, else 1.

With --recreate, also drop and create the URL's database (for `make bench`).
"""

import argparse
import sys
import urllib.parse

import psycopg
from psycopg import sql


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--recreate", action="store_true")
    args = parser.parse_args()
    parts = urllib.parse.urlsplit(args.url)
    try:
        connection = psycopg.connect(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 5432,
            user=parts.username or "postgres",
            password=parts.password,
            dbname="postgres",
            connect_timeout=3,
            autocommit=True,
        )
    except psycopg.Error:
        return 1
    with connection:
        if args.recreate:
            name = sql.Identifier(parts.path.lstrip("/"))
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
            connection.execute(sql.SQL("CREATE DATABASE {}").format(name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
