"""Path converters for ids stored in the database."""

from django.urls import register_converter

# The largest value of a 64-bit signed integer column (PostgreSQL's bigint, SQLite's
# INTEGER): a larger id names no row, and the drivers refuse to bind it.
MAX_ROW_ID = 2**63 - 1


class RowIdConverter:
    """``<rowid:name>``: a positive integer a database id column can hold; any other path
    does not match (404), as for an id nobody has."""

    regex = "[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        number = int(value)
        if number > MAX_ROW_ID:
            raise ValueError("past a 64-bit id")
        return number

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(RowIdConverter, "rowid")
