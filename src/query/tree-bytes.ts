/**
 * Tree bytes (wire reference §4.5, Pyroscope's FunctionNameTree marshal format): pre-order
 * records `uvarint len(name), name, uvarint self, uvarint childCount`, starting with a virtual
 * root (empty name, self 0) whose children are the real roots. Empty tree = zero bytes.
 *
 * The encoder walks as Pyroscope's MarshalTruncate does (a stack, last child first), so the
 * bytes match its output: children under the max-nodes threshold (see `minTotal`) are
 * replaced by one child named `other` (merged into an existing `other` child), emitted when
 * the folded sum is positive. Values are int64 on the wire: a negative self is written as its
 * two's complement, as Go's uint64(int64) does.
 */
import { minTotal, OTHER_NAME, type PreparedTree, prepareTree } from "./flamegraph.ts";
import { NameTable, NameTree } from "./tree.ts";

const TWO_POW_63 = 2 ** 63;
const TWO_POW_64 = 2 ** 64;

class ByteSink {
  #bytes = new Uint8Array(64 * 1024);
  #length = 0;

  #reserve(extra: number): void {
    if (this.#length + extra <= this.#bytes.length) return;
    let capacity = this.#bytes.length * 2;
    while (capacity < this.#length + extra) capacity *= 2;
    const grown = new Uint8Array(capacity);
    grown.set(this.#bytes.subarray(0, this.#length));
    this.#bytes = grown;
  }

  /** Unsigned LEB128 of a non-negative integer double (exact up to 2^64). */
  uvarint(value: number): void {
    this.#reserve(10);
    if (value < 2 ** 31) {
      let v = value >>> 0;
      while (v >= 0x80) {
        this.#bytes[this.#length++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
      this.#bytes[this.#length++] = v;
      return;
    }
    let v = BigInt(value);
    while (v >= 0x80n) {
      this.#bytes[this.#length++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.#bytes[this.#length++] = Number(v);
  }

  bytes(data: Uint8Array): void {
    this.#reserve(data.length);
    this.#bytes.set(data, this.#length);
    this.#length += data.length;
  }

  finish(): Uint8Array {
    return this.#bytes.slice(0, this.#length);
  }
}

/** int64 → the uint64 Go writes for it. */
function asUint64(value: number): number {
  return value < 0 ? value + TWO_POW_64 : value;
}

/** Encodes `tree` as tree bytes with at most about `maxNodes` nodes (< 1: no limit). */
export function encodeTreeBytes(tree: NameTree | PreparedTree, maxNodes: number): Uint8Array {
  const prepared = tree instanceof NameTree ? prepareTree(tree) : tree;
  const { view, totals, index } = prepared;
  if (view.nodeCount <= 1) return new Uint8Array(0);
  const { offsets, children } = index;
  const names = prepared.tree.names;
  const threshold = minTotal(prepared, maxNodes);
  const otherName = names.find(OTHER_NAME);
  const encoder = new TextEncoder();
  const nameBytes: (Uint8Array | undefined)[] = new Array(names.count);
  const otherBytes = encoder.encode(OTHER_NAME);
  const sink = new ByteSink();
  // Extra self folded into an existing `other` child, by node (rare: a real function "other").
  const extraSelf = new Map<number, number>();
  // Stack of node ids, -1 - k for the k-th synthetic `other`; each entry pushed once.
  const stack = new Int32Array(2 * view.nodeCount);
  const syntheticSelf: number[] = [];
  let top = 0;
  stack[top++] = 0;
  const kept: number[] = [];
  while (top > 0) {
    const node = stack[--top]!;
    if (node < 0) {
      sink.uvarint(otherBytes.length);
      sink.bytes(otherBytes);
      sink.uvarint(asUint64(syntheticSelf[-1 - node]!));
      sink.uvarint(0);
      continue;
    }
    if (node === 0) {
      sink.uvarint(0);
    } else {
      const nameId = view.name[node]!;
      let bytes = nameBytes[nameId];
      if (bytes === undefined) {
        bytes = encoder.encode(names.names[nameId]!);
        nameBytes[nameId] = bytes;
      }
      sink.uvarint(bytes.length);
      sink.bytes(bytes);
    }
    sink.uvarint(asUint64(view.self[node]! + (extraSelf.get(node) ?? 0)));
    kept.length = 0;
    let other = 0;
    let existingOther = -1;
    for (let c = offsets[node]!; c < offsets[node + 1]!; c++) {
      const child = children[c]!;
      const isOther = view.name[child] === otherName;
      if (isOther) existingOther = child;
      if (totals[child]! >= threshold || isOther) kept.push(child);
      else other += totals[child]!;
    }
    if (other > 0) {
      if (existingOther >= 0) {
        extraSelf.set(existingOther, (extraSelf.get(existingOther) ?? 0) + other);
      } else {
        // Insert the synthetic `other` at its name position among the kept children.
        syntheticSelf.push(other);
        const synthetic = -syntheticSelf.length;
        let at = kept.length;
        for (let k = 0; k < kept.length; k++) {
          if (compareName(names, view.name[kept[k]!]!, OTHER_NAME) > 0) {
            at = k;
            break;
          }
        }
        kept.splice(at, 0, synthetic);
      }
    }
    for (const child of kept) stack[top++] = child;
    sink.uvarint(kept.length);
  }
  return sink.finish();
}

function compareName(names: NameTable, nameId: number, text: string): number {
  const name = names.names[nameId]!;
  // Byte order equals code point order; `other` is ASCII, so UTF-16 order agrees here.
  return name < text ? -1 : name > text ? 1 : 0;
}

/**
 * Decodes tree bytes into a name tree (names interned into `names`). Siblings with the same
 * name are merged. Throws RangeError on malformed input; work is bounded by the input length
 * (every record takes at least 3 bytes).
 */
export function decodeTreeBytes(bytes: Uint8Array, names: NameTable = new NameTable()): NameTree {
  const tree = new NameTree(names);
  if (bytes.length === 0) return tree;
  const decoder = new TextDecoder("utf-8", { fatal: false });
  let offset = 0;
  const uvarint = (): number => {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (offset >= bytes.length) throw new RangeError("tree bytes: truncated varint");
      const byte = bytes[offset++]!;
      result += (byte & 0x7f) * scale;
      if (byte < 0x80) return result;
      scale *= 128;
    }
    throw new RangeError("tree bytes: varint longer than 10 bytes");
  };
  // Parents waiting for one more child each; the virtual root's record comes first.
  const pending: number[] = [-1];
  const recordBytesMin = 3;
  while (pending.length > 0) {
    const parent = pending.pop()!;
    const nameLength = uvarint();
    if (offset + nameLength > bytes.length) throw new RangeError("tree bytes: name past the end");
    const name = decoder.decode(bytes.subarray(offset, offset + nameLength));
    offset += nameLength;
    let self = uvarint();
    if (self >= TWO_POW_63) self -= TWO_POW_64;
    const childCount = uvarint();
    if (childCount * recordBytesMin > bytes.length - offset) {
      throw new RangeError(`tree bytes: ${childCount} children cannot fit in the remaining bytes`);
    }
    // The virtual root is our node 0; its name and self carry nothing.
    const node = parent < 0 ? 0 : tree.child(parent, names.id(name));
    if (parent >= 0 && self !== 0) tree.addSelf(node, self);
    for (let c = 0; c < childCount; c++) pending.push(node);
  }
  if (offset !== bytes.length) throw new RangeError(`tree bytes: ${bytes.length - offset} trailing bytes`);
  return tree;
}
