"""Just enough of the protobuf wire format to read AndroidControl's accessibility trees.

AndroidControl stores each observation's tree as a serialised ``AndroidAccessibilityForest``
(android_env/proto/a11y): forest.windows (1) -> window.tree (11) -> tree.nodes (1) -> node
with bounds_in_screen (2: ProtoRect left 1, top 2, right 3, bottom 4), text (7),
content_description (4), is_clickable (14) and is_visible_to_user (23). Reading those few
fields needs no generated code and no protobuf runtime.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass


class WireError(ValueError):
    """Bytes that are not a well-formed protobuf message."""


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        if i >= len(buf):
            raise WireError("truncated varint")
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, i
        shift += 7
        if shift > 63:
            raise WireError("varint too long")


def fields(buf: bytes) -> Iterator[tuple[int, int | bytes]]:
    """(field number, value) of each field: an int for varints, bytes for length-delimited ones."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buf, i)
            yield number, value
        elif wire == 2:
            n, i = _varint(buf, i)
            if i + n > len(buf):
                raise WireError("truncated field")
            yield number, buf[i:i + n]
            i += n
        elif wire in (1, 5):
            i += 8 if wire == 1 else 4  # fixed64 / fixed32: none of the fields we read
        else:
            raise WireError(f"unsupported wire type {wire}")


def _int32(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


@dataclass(frozen=True)
class Node:
    bounds: tuple[int, int, int, int]  # left, top, right, bottom in screen pixels
    text: str = ""
    description: str = ""
    clickable: bool = False
    visible: bool = False


def forest_nodes(blob: bytes) -> list[Node]:
    """Every node of every window of a serialised AndroidAccessibilityForest."""
    out: list[Node] = []
    for n, window in fields(blob):
        if n != 1 or not isinstance(window, bytes):
            continue
        for m, tree in fields(window):
            if m != 11 or not isinstance(tree, bytes):
                continue
            for k, node in fields(tree):
                if k == 1 and isinstance(node, bytes):
                    out.append(_node(node))
    return out


def _node(blob: bytes) -> Node:
    rect = [0, 0, 0, 0]
    text = desc = ""
    clickable = visible = False
    for n, v in fields(blob):
        if n == 2 and isinstance(v, bytes):
            for k, c in fields(v):
                if 1 <= k <= 4 and isinstance(c, int):
                    rect[k - 1] = _int32(c)
        elif n == 7 and isinstance(v, bytes):
            text = v.decode("utf-8", "replace")
        elif n == 4 and isinstance(v, bytes):
            desc = v.decode("utf-8", "replace")
        elif n == 14 and isinstance(v, int):
            clickable = bool(v)
        elif n == 23 and isinstance(v, int):
            visible = bool(v)
    return Node(bounds=(rect[0], rect[1], rect[2], rect[3]), text=text, description=desc, clickable=clickable,
                visible=visible)


# ---------------------------------------------------------------- writing (tests, converters)


def _enc_varint(v: int) -> bytes:
    v &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        out.append(b | (0x80 if v else 0))
        if not v:
            return bytes(out)


def field_varint(number: int, value: int) -> bytes:
    return _enc_varint(number << 3) + _enc_varint(value)


def field_bytes(number: int, value: bytes) -> bytes:
    return _enc_varint(number << 3 | 2) + _enc_varint(len(value)) + value


def encode_forest(nodes: list[Node]) -> bytes:
    """A serialised AndroidAccessibilityForest with one window holding `nodes`."""
    tree = b""
    for i, node in enumerate(nodes):
        rect = b"".join(field_varint(k + 1, v) for k, v in enumerate(node.bounds))
        body = (field_varint(1, i) + field_bytes(2, rect) + field_bytes(4, node.description.encode())
                + field_bytes(7, node.text.encode()) + field_varint(14, int(node.clickable))
                + field_varint(23, int(node.visible)))
        tree += field_bytes(1, body)
    window = field_varint(3, 1) + field_bytes(11, tree)
    return field_bytes(1, window)


__all__ = ["Node", "WireError", "encode_forest", "fields", "forest_nodes"]
