"""Exit 0 when the PostgreSQL server of the given URL accepts a connection, else 1."""

import sys
import urllib.parse

import psycopg


def main(url: str) -> int:
    parts = urllib.parse.urlsplit(url)
    try:
        psycopg.connect(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 5432,
            user=parts.username or "postgres",
            password=parts.password,
            dbname="postgres",
            connect_timeout=3,
        ).close()
    except psycopg.Error:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
