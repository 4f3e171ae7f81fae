"""Lowering a law's ``Program`` to the fixed-length instruction arrays the interpreter runs.

Each law's ``Program`` is lowered on the host (microseconds) to fixed-length
instruction arrays; one jitted interpreter runs any of them. Instruction ``i``
(static single assignment: it writes slot ``i``) reads two operands, each
``(kind, index, const)`` with kind one of

    REG (an earlier slot) · FROM_INPUT (a column of x) · FROM_PARAM (a slot of p)
    FROM_CONST (const) · FROM_HOISTED (a slot of the hoisted values)

and the interpreter (:mod:`sld.fit._interpreter`) computes its value v and the partials
da = ∂v/∂a, db = ∂v/∂b.

**Hoisting.** Instructions that depend on no parameter (``log(x)``, ``x**2``) are
lowered into ``h_*`` arrays, computed once per LM run over the rows alone, and
read back as FROM_HOISTED operands, so the per-iteration program keeps only
work that depends on p. A power whose base depends on no parameter (``N**(-a)``,
the commonest term of a scaling law) gets its ``log|N|`` hoisted too: it runs as
``POWL``, ``exp(b·log|a|)`` with the log read from the hoisted slot its ``const``
names, and the special cases of ``_numerics.power_parts`` decided from the base.

**Uses.** The interpreter's backward sweep pulls each adjoint from at most two
users; nodes or parameters used more than twice get copies (``x + 0``) so two use
slots always suffice, and the use tables name those users.

Sizes are padded to buckets (instructions, hoisted instructions, parameter
slots), so laws of similar size share the executable; padded parameter slots
never appear in the program, get zero Jacobian columns and so a zero LM step.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._program import (
    ABS,
    ADD,
    CONST,
    INPUT,
    LOG,
    MAX,
    MIN,
    MUL,
    N_OPCODES,
    PARAM,
    POW,
    POWC,
    Program,
)

SIZE_BUCKETS = (4, 8, 16, 32, 64, 128, 256, 512, 1024)
# Smallest padded sizes. Padding instructions and hoisted slots costs memory, not work (the
# loops run the real counts) and leaves every fit the same to the last bit, while every
# distinct size is another XLA compile of the whole LM (about 2 s each on a 2-core CPU): 32
# and 16 put nearly every law of a search in one executable per parameter bucket (README,
# "Speed"). Parameter slots are not free (JᵀJ costs rows × P²; padded to 16, vocab's laws fitted
# 1.8× slower and not bit-identical), so MIN_PARAMS stays 8.
MIN_INSTRUCTIONS, MIN_HOISTED, MIN_PARAMS = 32, 16, 8
# interpreter-only opcodes: POWC with the exponents −1 and 2, which need no exp or log;
# POW of a parameter-free base, its log hoisted (see the module docstring)
RECIP, SQUARE, POWL = N_OPCODES, N_OPCODES + 1, N_OPCODES + 2
N_INTERPRETER_OPCODES = N_OPCODES + 3
_SPECIAL_POWC = {-1.0: RECIP, 2.0: SQUARE}
USES = 2  # use slots per instruction and per parameter


def size_bucket(n: int) -> int:
    for b in SIZE_BUCKETS:
        if b >= n:
            return b
    return int(2 ** np.ceil(np.log2(n)))


@dataclass(frozen=True)
class Instructions:
    """Host arrays of one lowered program (see module docstring) and its padded sizes.

    ``n_registers`` is the padded instruction count S (one slot per instruction,
    plus a zero slot at S that padded use entries point to).
    """

    arrays: dict[str, np.ndarray]
    n_instructions: int
    n_registers: int
    n_params: int


REG, FROM_INPUT, FROM_PARAM, FROM_CONST, FROM_HOISTED = range(5)  # operand kinds
_LEAF_KIND = {INPUT: FROM_INPUT, PARAM: FROM_PARAM, CONST: FROM_CONST}
_BINARY = (ADD, MUL, POW, MIN, MAX, POWL)
_OPERAND_FIELDS = ("opcode", "const", "ka", "ia", "ca", "kb", "ib", "cb")
_FLOAT_FIELDS = ("const", "ca", "cb")

Node = tuple[int, int, int, float]


def _operands(node: Node) -> tuple[int, ...]:
    op, a, b, _c = node
    if op in _LEAF_KIND:
        return ()
    return (a, b) if op in _BINARY else (a,)


def _depends(nodes: list[Node]) -> list[bool]:
    """Whether each node depends on a parameter (nodes in topological order)."""
    depends = [op == PARAM for op, *_ in nodes]
    for i, node in enumerate(nodes):
        depends[i] = depends[i] or any(depends[j] for j in _operands(node))
    return depends


def _split_fan_out(nodes: list[Node], outputs: list[int]) -> tuple[list[Node], list[int]]:
    """Rewrite so that every parameter-dependent value has at most ``USES`` dependent uses.

    A node (or parameter) with more gets a chain of copies ``x + 0`` placed right
    after it: x feeds its first user and a copy, the copy the next user and a
    further copy, and so on. Parameters with more uses first get one copy that
    takes all of them. Outputs are not uses (their adjoint is seeded).
    """
    depends = _depends(nodes)
    uses: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for i, node in enumerate(nodes):
        for s, j in enumerate(_operands(node)):
            if depends[j]:
                uses[j].append((i, s))
    if all(len(u) <= USES for u in uses.values()):
        return nodes, outputs
    out: list[Node] = [(CONST, -1, -1, 0.0)]
    zero = 0
    new_index: dict[int, int] = {}
    redirect: dict[tuple[int, int], int] = {}

    def emit(node: Node) -> int:
        out.append(node)
        return len(out) - 1

    def chain(x: int, users: list[tuple[int, int]]) -> None:
        while len(users) > USES:
            redirect[users[0]] = x
            x = emit((ADD, x, zero, 0.0))
            users = users[1:]
        for use in users:
            redirect[use] = x

    for i, node in enumerate(nodes):
        op, a, b, c = node
        ops = _operands(node)
        if ops:
            mapped = [redirect.get((i, s), new_index[j]) for s, j in enumerate(ops)]
            a = mapped[0]
            b = mapped[1] if len(mapped) > 1 else b
        x = new_index[i] = emit((op, a, b, c))
        users = uses.get(i, [])
        if len(users) > USES:
            if op == PARAM:
                x = emit((ADD, x, zero, 0.0))
            chain(x, users)
    return out, [new_index[o] for o in outputs]


def _hoist_power_logs(nodes: list[Node], outputs: list[int]) -> tuple[list[Node], list[int]]:
    """Give every parameter-dependent ``POW`` whose base depends on no parameter a node
    ``log|base|`` of its own, placed before it.

    The power becomes ``(POWL, base, exponent, index of that log node)``; the log node,
    free of parameters, is hoisted like any other. Run after fan-out splitting, which
    renumbers nodes (it never touches parameter-free ones).
    """
    depends = _depends(nodes)
    if not any(op == POW and not depends[a] and depends[b] for op, a, b, _c in nodes):
        return nodes, outputs
    out: list[Node] = []
    new_index: list[int] = []
    for node in nodes:
        op, a, b, c = node
        ops = _operands(node)
        if ops:
            a = new_index[a]
            b = new_index[b] if len(ops) > 1 else b
        if op == POW and not depends[node[1]] and depends[node[2]]:
            out.append((ABS, a, -1, 0.0))
            out.append((LOG, len(out) - 1, -1, 0.0))
            op, c = POWL, float(len(out) - 1)
        new_index.append(len(out))
        out.append((op, a, b, c))
    return out, [new_index[o] for o in outputs]


def lower(
    program: Program,
    *,
    n_params: int | None = None,
    length: int | None = None,
    registers: int | None = None,
) -> Instructions:
    """Lower a program into padded instruction, hoisting and use arrays.

    Leaves (inputs, parameters, constants) are not instructions: each operand is
    (kind, index, constant), fetched directly. An output that is itself a leaf gets
    a copy instruction ``leaf + 0``. ``n_params`` and ``length`` (or ``registers``,
    the same thing: slots are instructions) override the bucketed sizes.
    """
    nodes = list(program.nodes)
    outputs = list(program.outputs)
    for k, o in enumerate(outputs):
        if nodes[o][0] in _LEAF_KIND:
            nodes.append((CONST, -1, -1, 0.0))
            nodes.append((ADD, o, len(nodes) - 1, 0.0))
            outputs[k] = len(nodes) - 1
    nodes, outputs = _split_fan_out(nodes, outputs)
    nodes, outputs = _hoist_power_logs(nodes, outputs)
    n = len(nodes)
    is_leaf = [op in _LEAF_KIND for op, *_ in nodes]
    depends = _depends(nodes)
    hoisted = [not is_leaf[i] and not depends[i] and i not in outputs for i in range(n)]
    slot = np.full(n, -1, dtype=np.int64)
    main: dict[str, list[Any]] = {k: [] for k in _OPERAND_FIELDS}
    pre: dict[str, list[Any]] = {k: [] for k in _OPERAND_FIELDS}
    user_of: dict[int, list[tuple[int, int]]] = defaultdict(list)  # slot → (user slot, operand)
    param_uses: dict[int, list[tuple[int, int]]] = defaultdict(list)  # p index → (slot, operand)

    def operand(j: int) -> tuple[int, int, float]:
        op, a, _b, c = nodes[j]
        if op == INPUT or op == PARAM:
            return _LEAF_KIND[op], a, 0.0
        if op == CONST:
            return FROM_CONST, 0, c
        return (FROM_HOISTED if hoisted[j] else REG), int(slot[j]), 0.0

    for i, node in enumerate(nodes):
        if is_leaf[i]:
            continue
        op, _a, _b, c = node
        ops = _operands(node)
        (ka, ia, ca), (kb, ib, cb) = (
            operand(ops[0]),
            (operand(ops[1]) if len(ops) > 1 else (FROM_CONST, 0, 0.0)),
        )
        target = pre if hoisted[i] else main
        slot[i] = len(target["opcode"])
        if not hoisted[i]:
            for s, j in enumerate(ops):
                if nodes[j][0] == PARAM:
                    param_uses[nodes[j][1]].append((int(slot[i]), s))
                elif depends[j]:
                    user_of[int(slot[j])].append((int(slot[i]), s))
        if op == POWC:
            op = _SPECIAL_POWC.get(c, op)
        elif op == POWL:
            c = float(slot[int(c)])  # the hoisted slot of log|base|
        row = dict(opcode=op, const=c, ka=ka, ia=ia, ca=ca, kb=kb, ib=ib, cb=cb)
        for field, value in row.items():
            target[field].append(value)
    count, n_pre = len(main["opcode"]), len(pre["opcode"])
    S = max(length or 0, registers or 0) or size_bucket(max(count, MIN_INSTRUCTIONS))
    P = n_params or size_bucket(max(program.n_params, MIN_PARAMS))
    H = size_bucket(max(n_pre, MIN_HOISTED))
    if S < count or P < program.n_params:
        raise ValueError("bucket sizes smaller than the program")
    if any(len(u) > USES for u in [*user_of.values(), *param_uses.values()]):
        raise AssertionError("fan-out splitting left a value with more than two uses")
    arrays: dict[str, np.ndarray] = {}
    for prefix, fields, size in (("", main, S), ("h_", pre, H)):
        for field, values in fields.items():
            arr = np.zeros(size, dtype=np.float64 if field in _FLOAT_FIELDS else np.int32)
            arr[: len(values)] = values
            arrays[prefix + field] = arr
    # use tables: A index (slot S is the zero slot) and D index 2·slot + operand
    use_a = np.full((S, USES), S, dtype=np.int32)
    use_d = np.full((S, USES), 2 * S, dtype=np.int32)
    for i, users in user_of.items():
        for k, (u, s) in enumerate(users):
            use_a[i, k], use_d[i, k] = u, 2 * u + s
    par_a = np.full((P, USES), S, dtype=np.int32)
    par_d = np.full((P, USES), 2 * S, dtype=np.int32)
    for j, users in param_uses.items():
        for k, (u, s) in enumerate(users):
            par_a[j, k], par_d[j, k] = u, 2 * u + s
    linear = np.zeros(P, dtype=bool)
    linear[: program.n_params] = program.linear
    scale = np.zeros(P, dtype=bool)
    scale[: len(program.scale_like)] = program.scale_like
    arrays.update(
        use_a=use_a,
        use_d=use_d,
        par_a=par_a,
        par_d=par_d,
        outputs=np.array([slot[o] for o in outputs], dtype=np.int32),
        n=np.asarray(count, dtype=np.int32),
        n_params=np.asarray(program.n_params, dtype=np.int32),
        h_n=np.asarray(n_pre, dtype=np.int32),
        linear=linear,
        scale=scale,
    )
    return Instructions(arrays=arrays, n_instructions=count, n_registers=S, n_params=P)
