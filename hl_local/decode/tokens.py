"""The words of a log line that the writer indexes per minute (store/schema/log_tokens.sql).

A bare-word search matches whole tokens, case-insensitively (query/compile.py): tokens are the
runs between ASCII characters other than letters and digits. The index keeps each line's distinct
tokens that are words: lower-cased, ASCII letters only, 2 to 32 of them. Identifiers with digits
(ids, hashes, numbers) are left out, so the index grows with the vocabulary, not with the data;
a search for one of those reads the lines themselves, as before.
"""

from __future__ import annotations

import re
from typing import Final

MIN_LETTERS, MAX_LETTERS = 2, 32
# An indexed token of a lower-cased body: 2-32 ASCII letters between separators (ASCII characters
# other than letters and digits, as compile.py's _SEPARATOR) or the ends. One findall measured
# ~30 % cheaper than splitting and testing each token in Python.
_WORD: Final = re.compile(
    r"(?:^|(?<=[\x00-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]))([a-z]{2,32})(?=$|[\x00-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f])"
)


def sql_tokens(body: str) -> str:
    """The same rule in SQL over the expression `body`, for lines the decoder did not tokenize."""
    separators = r"[\x00-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]+"
    return (
        f"list_filter(list_distinct(string_split_regex(lower({body}), '{separators}')), "
        f"lambda t: regexp_full_match(t, '[a-z]{{{MIN_LETTERS},{MAX_LETTERS}}}'))"
    )


def indexed(word: str) -> bool:
    """Whether a bare search word is a token the index holds (else the search reads the lines)."""
    lowered = word.lower()
    return MIN_LETTERS <= len(lowered) <= MAX_LETTERS and lowered.isascii() and lowered.isalpha()


def tokens(body: str) -> str:
    """The distinct indexed tokens of a log body, separated by spaces (see records.py Tokens)."""
    return " ".join(set(_WORD.findall(body.lower())))
