/**
 * A Python unpickler that executes nothing: it builds plain values (None, bool, int, float, str, bytes, tuples,
 * lists, dicts) and hands every global, call and persistent id to the caller, which decides what to allow. Binary
 * protocols 2 to 5, the opcodes `torch.save` and `pickle.dump` emit for dicts of tensors; every read is checked
 * against the end of the input first, so a malformed pickle is one clear error.
 *
 * @module
 */

/** Opcodes by name, with their byte (CPython's `Lib/pickle.py`). */
const OP = {
  MARK: 0x28, // (
  STOP: 0x2e, // .
  POP: 0x30, // 0
  POP_MARK: 0x31, // 1
  DUP: 0x32, // 2
  FLOAT: 0x46, // F (protocol 0)
  INT: 0x49, // I (protocol 0)
  BININT: 0x4a, // J
  BININT1: 0x4b, // K
  LONG: 0x4c, // L (protocol 0)
  BININT2: 0x4d, // M
  NONE: 0x4e, // N
  PERSID: 0x50, // P (protocol 0)
  BINPERSID: 0x51, // Q
  REDUCE: 0x52, // R
  STRING: 0x53, // S (protocol 0)
  BINSTRING: 0x54, // T
  SHORT_BINSTRING: 0x55, // U
  UNICODE: 0x56, // V (protocol 0)
  BINUNICODE: 0x58, // X
  APPEND: 0x61, // a
  BUILD: 0x62, // b
  GLOBAL: 0x63, // c
  DICT: 0x64, // d
  EMPTY_DICT: 0x7d, // }
  APPENDS: 0x65, // e
  GET: 0x67, // g (protocol 0)
  BINGET: 0x68, // h
  INST: 0x69, // i (protocol 0)
  LONG_BINGET: 0x6a, // j
  LIST: 0x6c, // l
  EMPTY_LIST: 0x5d, // ]
  OBJ: 0x6f, // o
  PUT: 0x70, // p (protocol 0)
  BINPUT: 0x71, // q
  LONG_BINPUT: 0x72, // r
  SETITEM: 0x73, // s
  TUPLE: 0x74, // t
  EMPTY_TUPLE: 0x29, // )
  SETITEMS: 0x75, // u
  BINFLOAT: 0x47, // G
  PROTO: 0x80,
  NEWOBJ: 0x81,
  EXT1: 0x82,
  EXT2: 0x83,
  EXT4: 0x84,
  TUPLE1: 0x85,
  TUPLE2: 0x86,
  TUPLE3: 0x87,
  NEWTRUE: 0x88,
  NEWFALSE: 0x89,
  LONG1: 0x8a,
  LONG4: 0x8b,
  BINBYTES: 0x42, // B
  SHORT_BINBYTES: 0x43, // C
  SHORT_BINUNICODE: 0x8c,
  BINUNICODE8: 0x8d,
  BINBYTES8: 0x8e,
  EMPTY_SET: 0x8f,
  ADDITEMS: 0x90,
  FROZENSET: 0x91,
  NEWOBJ_EX: 0x92,
  STACK_GLOBAL: 0x93,
  MEMOIZE: 0x94,
  FRAME: 0x95,
  BYTEARRAY8: 0x96,
  NEXT_BUFFER: 0x97,
  READONLY_BUFFER: 0x98,
} as const satisfies Record<string, number>;

const OP_NAMES: ReadonlyMap<number, string> = new Map(Object.entries(OP).map(([name, code]) => [code, name]));

/** A Python dict (or `OrderedDict`): insertion-ordered, keyed by the JS value of each key. */
export class PyDict {
  /** The entries in insertion order. */
  readonly entries: Map<unknown, unknown> = new Map();
}

/** A Python list. Tuples are frozen JS arrays, so the two stay apart. */
export class PyList {
  /** The items. */
  readonly items: unknown[] = [];
}

/** A global the caller allowed: `call` when it may be called by REDUCE or NEWOBJ, else only a marker. */
export class PyGlobal {
  /** `module.name`, as Python spells it. */
  readonly qualifiedName: string;
  constructor(
    readonly module: string,
    readonly name: string,
    readonly call?: (args: readonly unknown[]) => unknown,
  ) {
    this.qualifiedName = `${module}.${name}`;
  }
}

/** Python's name for the type of an unpickled value, for error messages. */
export function describe(value: unknown): string {
  if (value === null) return "None";
  if (typeof value === "boolean") return "bool";
  if (typeof value === "bigint" || Number.isInteger(value)) return "int";
  if (typeof value === "number") return "float";
  if (typeof value === "string") return "str";
  if (value instanceof Uint8Array) return "bytes";
  if (Array.isArray(value)) return "tuple";
  if (value instanceof PyList) return "list";
  if (value instanceof PyDict) return "dict";
  if (value instanceof PyGlobal) return value.qualifiedName;
  return (value as object)?.constructor?.name ?? typeof value;
}

/** What the caller decides. Each function throws (through `fail`) to refuse. */
export interface UnpickleHooks {
  /** The value of GLOBAL / STACK_GLOBAL `module.name`, or a refusal. */
  readonly findGlobal: (module: string, name: string) => PyGlobal;
  /** The value of a persistent id (BINPERSID), or a refusal. */
  readonly persistentLoad: (pid: unknown) => unknown;
  /** Throws an error that names the file; `why` names the opcode and offset. */
  readonly fail: (why: string) => never;
}

/** Integers wider than this many bytes (LONG1 allows 255) are refused rather than parsed. */
const MAX_LONG_BYTES = 255;

const UTF8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Unpickles the pickle that starts at `bytes[start]`. Returns the value and the offset just past its STOP, so
 * pickles written back to back (PyTorch's legacy format) can be read in turn. Offsets in errors count from `start`.
 */
export function unpickle(bytes: Uint8Array, start: number, hooks: UnpickleHooks): { value: unknown; end: number } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  let pos = start;
  let at = start; // the offset of the opcode being run
  let opName = "";

  const fail = (why: string): never => hooks.fail(`${opName} at offset ${at - start}: ${why}`);
  const need = (n: number): number => {
    if (n > bytes.length - pos) {
      fail(`needs ${n} more bytes but the pickle ends after ${bytes.length - pos} (truncated)`);
    }
    const p = pos;
    pos += n;
    return p;
  };
  const u8 = (): number => bytes[need(1)];
  const u16 = (): number => view.getUint16(need(2), true);
  const u32 = (): number => view.getUint32(need(4), true);
  const u64 = (): number => {
    const v = view.getBigUint64(need(8), true);
    if (v > BigInt(bytes.length)) fail(`length ${v} is longer than the whole ${bytes.length}-byte input`);
    return Number(v);
  };
  const take = (n: number): Uint8Array => bytes.subarray(need(n), pos);
  const text = (n: number): string => {
    const raw = take(n);
    try {
      return UTF8.decode(raw);
    } catch {
      return fail(`a string of ${n} bytes is not valid UTF-8`);
    }
  };
  const latin1 = (n: number): string => {
    const raw = take(n);
    let s = "";
    for (let i = 0; i < raw.length; i += 4096) s += String.fromCharCode(...raw.subarray(i, i + 4096));
    return s;
  };
  const line = (): string => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) fail("the line has no end (truncated)");
    const s = latin1(end - pos);
    pos++;
    return s;
  };
  const pop = (): unknown => {
    if (stack.length <= (marks.at(-1) ?? 0)) fail("the stack is empty");
    return stack.pop();
  };
  const top = (): unknown => {
    if (stack.length <= (marks.at(-1) ?? 0)) fail("the stack is empty");
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const mark = marks.pop();
    if (mark === undefined) fail("no MARK before it");
    return stack.splice(mark!);
  };
  const tuple = (items: unknown[]): readonly unknown[] => Object.freeze(items);
  const get = (index: number): unknown => {
    if (!memo.has(index)) fail(`memo entry ${index} was never stored`);
    return memo.get(index);
  };
  const signed = (raw: Uint8Array): number | bigint => {
    if (raw.length > MAX_LONG_BYTES) fail(`an integer of ${raw.length} bytes is too wide to read`);
    if (raw.length === 0) return 0;
    let v = 0n;
    for (let i = raw.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(raw[i]);
    if (raw[raw.length - 1] & 0x80) v -= 1n << BigInt(raw.length * 8);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  const call = (callable: unknown, args: unknown): unknown => {
    if (!(callable instanceof PyGlobal) || callable.call === undefined) {
      fail(`calls ${describe(callable)}, which is not a function this reader runs`);
    }
    if (!Array.isArray(args)) fail(`the arguments are a ${describe(args)}, not a tuple`);
    return (callable as PyGlobal).call!(args as unknown[]);
  };
  const setItems = (dict: unknown, items: unknown[]): void => {
    if (!(dict instanceof PyDict)) fail(`sets items of a ${describe(dict)}, not a dict`);
    if (items.length % 2) fail(`has ${items.length} values, not key-value pairs`);
    for (let i = 0; i < items.length; i += 2) (dict as PyDict).entries.set(items[i], items[i + 1]);
  };
  const append = (list: unknown, items: unknown[]): void => {
    if (!(list instanceof PyList)) fail(`appends to a ${describe(list)}, not a list`);
    for (const item of items) (list as PyList).items.push(item);
  };

  while (pos < bytes.length) {
    at = pos;
    const op = bytes[pos++];
    opName = OP_NAMES.get(op) ?? `opcode 0x${op.toString(16).padStart(2, "0")}`;
    switch (op) {
      case OP.PROTO: {
        const version = u8();
        if (version < 2 || version > 5) fail(`pickle protocol ${version} (this reader knows 2 to 5)`);
        break;
      }
      case OP.FRAME:
        u64(); // frames only group opcodes; the length is checked, the contents are read as they come
        break;
      case OP.STOP:
        if (marks.length) fail("a MARK was never closed");
        return { value: pop(), end: pos };
      case OP.MARK:
        marks.push(stack.length);
        break;
      case OP.POP:
        if (stack.length > (marks.at(-1) ?? 0)) stack.pop();
        else popMark(); // CPython: POP on an empty frame discards the mark
        break;
      case OP.POP_MARK:
        popMark();
        break;
      case OP.DUP:
        stack.push(top());
        break;
      case OP.NONE:
        stack.push(null);
        break;
      case OP.NEWTRUE:
        stack.push(true);
        break;
      case OP.NEWFALSE:
        stack.push(false);
        break;
      case OP.BININT:
        stack.push(view.getInt32(need(4), true));
        break;
      case OP.BININT1:
        stack.push(u8());
        break;
      case OP.BININT2:
        stack.push(u16());
        break;
      case OP.LONG1:
        stack.push(signed(take(u8())));
        break;
      case OP.LONG4: {
        const n = view.getInt32(need(4), true);
        if (n < 0) fail(`negative length ${n}`);
        stack.push(signed(take(n)));
        break;
      }
      case OP.BINFLOAT:
        stack.push(view.getFloat64(need(8), false));
        break;
      case OP.BINUNICODE:
        stack.push(text(u32()));
        break;
      case OP.SHORT_BINUNICODE:
        stack.push(text(u8()));
        break;
      case OP.BINUNICODE8:
        stack.push(text(u64()));
        break;
      case OP.BINSTRING: {
        const n = view.getInt32(need(4), true);
        if (n < 0) fail(`negative length ${n}`);
        stack.push(latin1(n)); // a Python 2 str, read as latin-1 (pickle's encoding="latin1")
        break;
      }
      case OP.SHORT_BINSTRING:
        stack.push(latin1(u8()));
        break;
      case OP.BINBYTES:
        stack.push(take(u32()).slice());
        break;
      case OP.SHORT_BINBYTES:
        stack.push(take(u8()).slice());
        break;
      case OP.BINBYTES8:
      case OP.BYTEARRAY8:
        stack.push(take(u64()).slice());
        break;
      case OP.EMPTY_TUPLE:
        stack.push(tuple([]));
        break;
      case OP.TUPLE1:
        stack.push(tuple([pop()]));
        break;
      case OP.TUPLE2: {
        const b = pop();
        stack.push(tuple([pop(), b]));
        break;
      }
      case OP.TUPLE3: {
        const c = pop();
        const b = pop();
        stack.push(tuple([pop(), b, c]));
        break;
      }
      case OP.TUPLE:
        stack.push(tuple(popMark()));
        break;
      case OP.EMPTY_LIST:
        stack.push(new PyList());
        break;
      case OP.LIST: {
        const list = new PyList();
        append(list, popMark());
        stack.push(list);
        break;
      }
      case OP.APPEND: {
        const item = pop();
        append(top(), [item]);
        break;
      }
      case OP.APPENDS: {
        const items = popMark();
        append(top(), items);
        break;
      }
      case OP.EMPTY_DICT:
        stack.push(new PyDict());
        break;
      case OP.DICT: {
        const dict = new PyDict();
        setItems(dict, popMark());
        stack.push(dict);
        break;
      }
      case OP.SETITEM: {
        const value = pop();
        const key = pop();
        setItems(top(), [key, value]);
        break;
      }
      case OP.SETITEMS: {
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case OP.GLOBAL: {
        const module = line();
        stack.push(hooks.findGlobal(module, line()));
        break;
      }
      case OP.STACK_GLOBAL: {
        const name = pop();
        const module = pop();
        if (typeof module !== "string" || typeof name !== "string") {
          fail(`module and name are ${describe(module)} and ${describe(name)}, not str`);
        }
        stack.push(hooks.findGlobal(module as string, name as string));
        break;
      }
      case OP.REDUCE: {
        const args = pop();
        const callable = pop();
        stack.push(call(callable, args));
        break;
      }
      case OP.NEWOBJ: {
        const args = pop();
        const cls = pop();
        stack.push(call(cls, args));
        break;
      }
      case OP.NEWOBJ_EX: {
        const kwargs = pop();
        const args = pop();
        const cls = pop();
        if (!(kwargs instanceof PyDict) || kwargs.entries.size) fail("keyword arguments are not supported");
        stack.push(call(cls, args));
        break;
      }
      case OP.BUILD: {
        const state = pop();
        const obj = top();
        // An OrderedDict subclass instance carries attributes (a state_dict's `_metadata`): not tensors, dropped.
        if (!(obj instanceof PyDict)) fail(`sets the state of a ${describe(obj)}; only dicts take state here`);
        if (!(state instanceof PyDict) && state !== null && !Array.isArray(state)) {
          fail(`the state is a ${describe(state)}`);
        }
        break;
      }
      case OP.BINPERSID:
        stack.push(hooks.persistentLoad(pop()));
        break;
      case OP.BINPUT:
        memo.set(u8(), top());
        break;
      case OP.LONG_BINPUT:
        memo.set(u32(), top());
        break;
      case OP.MEMOIZE:
        memo.set(memo.size, top());
        break;
      case OP.BINGET:
        stack.push(get(u8()));
        break;
      case OP.LONG_BINGET:
        stack.push(get(u32()));
        break;
      default:
        if (OP_NAMES.has(op)) fail("this opcode is not supported (torch.save does not write it)");
        fail("unknown opcode (not a pickle, or a corrupt one)");
    }
  }
  at = pos;
  opName = "end";
  return fail("the pickle ends without STOP (truncated)");
}
