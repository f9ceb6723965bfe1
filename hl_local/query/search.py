"""The search language (Highlight's syntax): tokenizer and recursive-descent parser → AST.

Pure: no I/O and no SQL. `parse_search(text)` returns the query's tree, or None for a query that
filters nothing; `compile.py` turns the tree into SQL.

Grammar (precedence from tightest to loosest: parentheses, NOT, explicit AND, OR, implicit AND):

    query      := <empty> | implicit EOF
    implicit   := or_expr or_expr*                 -- juxtaposition: the loosest AND
    or_expr    := and_expr ( OR and_expr )*
    and_expr   := unary ( AND unary )*
    unary      := NOT unary | primary
    primary    := '(' implicit ')'
                | ID op value?                     -- `key=` with no value adds no filter
                | ID EXISTS | ID NOT EXISTS
                | atom                             -- a bare value: searches the signal's default key
    op         := '=' | ':' | '!=' | '<' | '<=' | '>' | '>=' | '!'   -- ':' is '='; '!' filters nothing
    value      := group | NOT value | atom
    group      := '(' gor ')'                      -- a value group: key and op apply to every atom
    gor        := gand ( OR gand )*                -- no implicit AND inside a group
    gand       := gunary ( AND gunary )*
    gunary     := NOT gunary | '(' gor ')' | atom
    atom       := STRING | ID | VALUE

So `a=1 OR b=2 c=3` is `(a=1 OR b=2) AND c=3`, and `a=1 OR b=2 AND c=3` is `a=1 OR (b=2 AND c=3)`.

Lexical rules (Highlight's, restated):

- Whitespace (space, tab, CR, LF, FF) separates tokens. `( ) = : ! < >` are always tokens of their
  own; `!=`, `<=`, `>=` are two-character operators.
- A word is a maximal run of any other characters. A word made only of `[A-Za-z0-9_.*-]` is an ID
  (a key, or a value); any other word is a VALUE (a value only). An ID equal to AND, OR, NOT or
  EXISTS in any case is that keyword: quote it to search for the word.
- A quote (`"`, `'` or a backtick) at the start of a token opens a STRING that runs to the matching
  quote; a backslash escapes the quote and itself (`\\"` → `"`, `\\\\` → `\\`), any other backslash is
  kept as is (`"\\d"` is `\\d`). A quote inside a word is an ordinary character (`don't`).
- A value wrapped in slashes (`/…/`, quoted or not, at least one character between them) is a
  regular expression; its text is kept exactly as typed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

__all__ = [
    "And",
    "Exists",
    "Filter",
    "Node",
    "Not",
    "Or",
    "SearchSyntaxError",
    "Term",
    "Value",
    "ValueGroup",
    "parse_search",
]


class SearchSyntaxError(ValueError):
    """A query that does not parse (or compile): what is wrong, where, and what was expected.

    `position` is the 0-based character offset in the query text; `expected` names what would
    have been valid there ("a value", "')'").
    """

    def __init__(self, message: str, position: int, expected: str = "") -> None:
        super().__init__(f"{message} (at character {position})")
        self.message = message
        self.position = position
        self.expected = expected


# --- the tree ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    """One value: a bare search term, or an atom of a filter's value. `regex` values have no slashes."""

    value: str
    quoted: bool = False
    regex: bool = False
    position: int = field(default=0, compare=False, repr=False)


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    item: Node


@dataclass(frozen=True)
class ValueGroup:
    """A filter's value built of several atoms: `key=(a OR b)`, `key=(NOT a)`, `key=NOT a`."""

    item: Value


@dataclass(frozen=True)
class Filter:
    """`key op value`; `op` is one of = != < <= > >= ! (`:` is stored as `=`); value None: `key=`."""

    key: str
    op: str
    value: Term | ValueGroup | None
    position: int = field(default=0, compare=False, repr=False)


@dataclass(frozen=True)
class Exists:
    key: str
    negated: bool = False
    position: int = field(default=0, compare=False, repr=False)


Node = Term | Filter | Exists | And | Or | Not
Value = Term | And | Or | Not  # inside a ValueGroup: only Terms at the leaves


# --- tokens ------------------------------------------------------------------------------------

_WHITESPACE: Final = " \t\n\r\f"
_DELIMITERS: Final = _WHITESPACE + "()=:!<>"
_QUOTES: Final = "\"'`"
_ID = re.compile(r"[A-Za-z0-9_.*\-]+")
_KEYWORDS: Final = frozenset({"AND", "OR", "NOT", "EXISTS"})
_TWO_CHAR_OPS: Final = frozenset({"!=", "<=", ">="})


@dataclass(frozen=True)
class _Token:
    kind: str  # ( ) OP AND OR NOT EXISTS ID VALUE STRING EOF
    text: str  # as typed
    value: str  # the value it stands for: unquoted, unescaped
    position: int
    regex: bool = False


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char in _WHITESPACE:
            i += 1
        elif char in "()":
            tokens.append(_Token(char, char, char, i))
            i += 1
        elif char in "=:!<>":
            op = text[i : i + 2] if text[i : i + 2] in _TWO_CHAR_OPS else char
            tokens.append(_Token("OP", op, "=" if op == ":" else op, i))
            i += len(op)
        elif char in _QUOTES:
            token = _string_token(text, i)
            tokens.append(token)
            i += len(token.text)
        else:
            end = i
            while end < len(text) and text[end] not in _DELIMITERS:
                end += 1
            tokens.append(_word_token(text[i:end], i))
            i = end
    tokens.append(_Token("EOF", "", "", len(text)))
    return tokens


def _string_token(text: str, start: int) -> _Token:
    quote = text[start]
    i = start + 1
    while i < len(text) and text[i] != quote:
        i += 2 if text[i] == "\\" else 1
    if i >= len(text):
        raise SearchSyntaxError("unterminated string", start, f"a closing {quote}")
    end = i + 1
    if end < len(text) and text[end] not in _DELIMITERS:
        raise SearchSyntaxError(
            f"expected a space, an operator or ')' after the closing {quote}", end, "a space"
        )
    raw = text[start + 1 : i]
    if _is_regex(raw):
        return _Token("STRING", text[start:end], raw[1:-1], start, regex=True)
    return _Token("STRING", text[start:end], _unescape(raw, quote), start)


def _unescape(raw: str, quote: str) -> str:
    return re.sub(r"\\([\\" + quote + "])", r"\1", raw)


def _word_token(word: str, start: int) -> _Token:
    if _ID.fullmatch(word):
        upper = word.upper()
        if upper in _KEYWORDS:
            return _Token(upper, word, word, start)
        return _Token("ID", word, word, start)
    if _is_regex(word):
        return _Token("VALUE", word, word[1:-1], start, regex=True)
    return _Token("VALUE", word, word, start)


def _is_regex(text: str) -> bool:
    return len(text) >= 3 and text[0] == "/" and text[-1] == "/"


# --- the parser --------------------------------------------------------------------------------

_ATOMS: Final = frozenset({"ID", "VALUE", "STRING"})
_TERM_STARTS: Final = _ATOMS | {"(", "NOT"}


def parse_search(text: str) -> Node | None:
    """The query's tree, or None for an empty query. `key=` stays in the tree (compile skips it).

    Raises SearchSyntaxError with the 0-based position of the problem.
    """
    return _Parser(_tokenize(text)).parse()


class _Parser:
    def __init__(self, tokens: list[_Token]) -> None:
        self._tokens = tokens
        self._i = 0

    def _peek(self, ahead: int = 0) -> _Token:
        return self._tokens[min(self._i + ahead, len(self._tokens) - 1)]

    def _next(self) -> _Token:
        token = self._peek()
        self._i += 1
        return token

    def parse(self) -> Node | None:
        if self._peek().kind == "EOF":
            return None
        node = self._implicit()
        token = self._peek()
        if token.kind == ")":
            raise SearchSyntaxError("unbalanced ')'", token.position, "a search term or the end")
        if token.kind != "EOF":  # a misplaced keyword: `a EXISTS EXISTS`
            raise _unexpected(token, "a search term")
        return node

    # expressions

    def _implicit(self) -> Node:
        items = [self._or()]
        while self._peek().kind in _TERM_STARTS or self._peek().kind == "OP":
            items.append(self._or())
        return items[0] if len(items) == 1 else And(tuple(items))

    def _or(self) -> Node:
        items = [self._and()]
        while self._peek().kind == "OR":
            items.append(self._operand(self._next(), self._and))
        return items[0] if len(items) == 1 else Or(tuple(items))

    def _and(self) -> Node:
        items = [self._unary()]
        while self._peek().kind == "AND":
            items.append(self._operand(self._next(), self._unary))
        return items[0] if len(items) == 1 else And(tuple(items))

    def _operand(self, keyword: _Token, parse: Callable[[], Node]) -> Node:
        if self._peek().kind not in _TERM_STARTS:
            raise _unexpected(self._peek(), f"a search term after '{keyword.text}'")
        return parse()

    def _unary(self) -> Node:
        if self._peek().kind == "NOT":
            return Not(self._operand(self._next(), self._unary))
        return self._primary()

    def _primary(self) -> Node:
        token = self._peek()
        if token.kind == "(":
            return self._parens()
        if token.kind == "ID" and self._starts_filter(0):
            return self._filter()
        if token.kind in _ATOMS:
            if self._peek(1).kind == "OP":
                problem = "cannot be quoted" if token.kind == "STRING" else "has other characters"
                raise SearchSyntaxError(
                    f"a key {problem}: keys are made of letters, digits, _ . - and *", token.position, "a key"
                )
            return self._atom()
        if token.kind == ")":
            raise SearchSyntaxError("unbalanced ')'", token.position, "a search term")
        if token.kind == "OP":
            raise SearchSyntaxError(f"expected a key before '{token.text}'", token.position, "a key")
        raise _unexpected(token, "a search term")

    def _parens(self) -> Node:
        opening = self._next()
        if self._peek().kind not in _TERM_STARTS:
            raise _unexpected(self._peek(), "a search term after '('")
        node = self._implicit()
        self._close(opening, "a search term or ')'")
        return node

    def _close(self, opening: _Token, expected: str) -> None:
        token = self._peek()
        if token.kind == ")":
            self._i += 1
            return
        if token.kind == "EOF":
            raise SearchSyntaxError(
                f"expected ')' to close the '(' at character {opening.position}", token.position, "')'"
            )
        raise _unexpected(token, expected)

    def _atom(self) -> Term:
        token = self._next()
        return Term(token.value, token.kind == "STRING", token.regex, token.position)

    # key/value filters

    def _starts_filter(self, ahead: int) -> bool:
        """Whether the ID `ahead` tokens on begins `key op`, `key EXISTS` or `key NOT EXISTS`."""
        after = self._peek(ahead + 1).kind
        return after in ("OP", "EXISTS") or (after == "NOT" and self._peek(ahead + 2).kind == "EXISTS")

    def _filter(self) -> Node:
        key = self._next()
        token = self._next()
        if token.kind == "EXISTS":
            return Exists(key.value, False, key.position)
        if token.kind == "NOT":
            self._i += 1  # EXISTS, as _starts_filter saw
            return Exists(key.value, True, key.position)
        return Filter(key.value, token.value, self._filter_value(token), key.position)

    def _filter_value(self, op: _Token) -> Term | ValueGroup | None:
        if not self._value_follows():
            return None
        if self._peek().kind in _ATOMS:
            return self._atom()
        return ValueGroup(self._value(op))

    def _value_follows(self) -> bool:
        """Whether a value follows the operator; `a= b=1` is `a=` then `b=1`, as in Highlight."""
        ahead = 0
        while self._peek(ahead).kind == "NOT":
            ahead += 1
        kind = self._peek(ahead).kind
        if kind == "ID" and self._starts_filter(ahead):
            return False
        return kind in _ATOMS or kind == "(" or (ahead > 0 and kind == "EOF")

    def _value(self, after: _Token) -> Value:
        token = self._peek()
        if token.kind == "NOT":
            return Not(self._value(self._next()))
        if token.kind == "(":
            return self._group()
        if token.kind in _ATOMS:
            return self._atom()
        raise _unexpected(token, f"a value after '{after.text}'")

    def _group(self) -> Value:
        opening = self._next()
        item = self._group_or(opening)
        self._close(opening, "AND, OR or ')' in the value group (quote a value that has spaces)")
        return item

    def _group_or(self, after: _Token) -> Value:
        items = [self._group_and(after)]
        while self._peek().kind == "OR":
            items.append(self._group_and(self._next()))
        return items[0] if len(items) == 1 else Or(tuple(items))

    def _group_and(self, after: _Token) -> Value:
        items = [self._group_unary(after)]
        while self._peek().kind == "AND":
            items.append(self._group_unary(self._next()))
        return items[0] if len(items) == 1 else And(tuple(items))

    def _group_unary(self, after: _Token) -> Value:
        token = self._peek()
        if token.kind == "NOT":
            return Not(self._group_unary(self._next()))
        if token.kind == "(":
            return self._group()
        if token.kind in _ATOMS:
            return self._atom()
        raise _unexpected(token, f"a value after '{after.text}'")


def _unexpected(token: _Token, expected: str) -> SearchSyntaxError:
    if token.kind == "EOF":
        return SearchSyntaxError(f"expected {expected}", token.position, expected)
    hint = ""
    if token.kind in _KEYWORDS:
        hint = f" ({token.text!r} is a keyword: quote it to search for the word)"
    return SearchSyntaxError(f"expected {expected}, found {token.text!r}{hint}", token.position, expected)
