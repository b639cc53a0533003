/**
 * Metadata-driven decoding of JFR values (event payloads and constant-pool entries).
 *
 * A value of class C is C's fields in declaration order, each one:
 * - an array (`dimension="1"`): compressed int count, then count elements;
 * - a constant-pool reference (`constantPool="true"`): compressed long id;
 * - a primitive: see reader.ts / strings.ts;
 * - otherwise the nested value of the field's class, inline.
 *
 * Decoded form (`JfrValue`): numbers/bigints (JfrLong) for integers and references,
 * booleans, strings (or StringRef / null), and arrays for both structs (positional by field)
 * and array fields. Callers look fields up by name through `JfrClass.fieldIndex`.
 *
 * Bounds: nesting is capped (`maxDepth`, so a class that contains itself inline fails
 * instead of recursing forever); every array count is at most the bytes left; arrays of
 * classes whose encoding is empty (no fields) are not iterated at all. Hence every loop
 * iteration consumes at least one byte and decoding is linear in the input size.
 */
import type { JfrClass, JfrMetadata } from "./metadata.ts";
import type { JfrLong, JfrReader } from "./reader.ts";
import { type JfrString, readJfrString, skipJfrString } from "./strings.ts";

export type JfrValue = JfrLong | boolean | JfrString | JfrValue[];

export interface ValueLimits {
  maxDepth: number;
  maxStringLength: number;
}

export class ValueCodec {
  private readonly meta: JfrMetadata;
  private readonly limits: ValueLimits;
  /** Class id → minimal encoded size (0 means the value has no bytes at all). */
  private readonly minSizes = new Map<number, number>();

  constructor(meta: JfrMetadata, limits: ValueLimits) {
    this.meta = meta;
    this.limits = limits;
  }

  /** Smallest encoding of a value of `cls`: 0 only for classes made of nothing. */
  minSize(cls: JfrClass): number {
    const known = this.minSizes.get(cls.id);
    if (known !== undefined) return known;
    if (cls.primitive !== undefined) {
      this.minSizes.set(cls.id, 1);
      return 1;
    }
    // Provisional 1 breaks cycles of inline fields; reading such a cycle hits maxDepth.
    this.minSizes.set(cls.id, 1);
    let size = 0;
    for (const f of cls.fields) {
      if (f.array || f.constantPool) size += 1;
      else size += this.minSize(this.meta.byId.get(f.typeId)!);
      if (size > 0) break;
    }
    this.minSizes.set(cls.id, size);
    return size;
  }

  read(r: JfrReader, cls: JfrClass, depth = 0): JfrValue {
    if (cls.primitive !== undefined) return this.readPrimitive(r, cls);
    if (depth > this.limits.maxDepth) throw r.fail(`values nested deeper than ${this.limits.maxDepth}`);
    const out: JfrValue[] = new Array(cls.fields.length);
    for (let i = 0; i < cls.fields.length; i++) {
      const f = cls.fields[i]!;
      const type = this.meta.byId.get(f.typeId)!;
      if (f.array) {
        const n = r.count(`array length of ${cls.name}.${f.name}`);
        const items: JfrValue[] = [];
        if (f.constantPool) {
          for (let k = 0; k < n; k++) items.push(r.varLong());
        } else if (this.minSize(type) > 0) {
          for (let k = 0; k < n; k++) items.push(this.read(r, type, depth + 1));
        }
        out[i] = items;
      } else if (f.constantPool) {
        out[i] = r.varLong();
      } else {
        out[i] = this.read(r, type, depth + 1);
      }
    }
    return out;
  }

  skip(r: JfrReader, cls: JfrClass, depth = 0): void {
    if (cls.primitive !== undefined) {
      this.skipPrimitive(r, cls);
      return;
    }
    if (depth > this.limits.maxDepth) throw r.fail(`values nested deeper than ${this.limits.maxDepth}`);
    for (const f of cls.fields) {
      const type = this.meta.byId.get(f.typeId)!;
      if (f.array) {
        const n = r.count(`array length of ${cls.name}.${f.name}`);
        if (f.constantPool) {
          for (let k = 0; k < n; k++) r.skipVarint();
        } else if (this.minSize(type) > 0) {
          for (let k = 0; k < n; k++) this.skip(r, type, depth + 1);
        }
      } else if (f.constantPool) {
        r.skipVarint();
      } else {
        this.skip(r, type, depth + 1);
      }
    }
  }

  private readPrimitive(r: JfrReader, cls: JfrClass): JfrValue {
    switch (cls.primitive) {
      case "boolean":
        return r.u8() !== 0;
      case "byte":
        return (r.u8() << 24) >> 24;
      case "char":
        return r.varChar();
      case "short":
        return r.varShort();
      case "int":
        return r.varInt();
      case "long":
        return r.varLong();
      case "float":
        return r.f32();
      case "double":
        return r.f64();
      default:
        return readJfrString(r, this.limits.maxStringLength);
    }
  }

  private skipPrimitive(r: JfrReader, cls: JfrClass): void {
    switch (cls.primitive) {
      case "boolean":
      case "byte":
        r.skip(1, cls.primitive);
        return;
      case "float":
        r.skip(4, "float");
        return;
      case "double":
        r.skip(8, "double");
        return;
      case "string":
        skipJfrString(r);
        return;
      default:
        r.skipVarint();
    }
  }
}
