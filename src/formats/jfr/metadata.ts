/**
 * The JFR metadata event (type id 0): the type system of one chunk.
 *
 * Layout after the event header (size, type 0, start time, duration, metadata id):
 * `int stringCount`, that many strings (JFR string encoding), then an element tree. Each
 * element is `int nameIndex`, `int attributeCount`, attributeCount × (`int keyIndex`,
 * `int valueIndex`), `int childCount`, children. All indices point into the string table.
 *
 * The tree is `root` → `metadata` → `class`* → (`field` | `annotation` | `setting`)*; a
 * `class` has attributes `id`, `name`, `superType`, `simpleType`; a `field` has `name`,
 * `class` (type id), and optionally `constantPool="true"` and `dimension="1"` (an array).
 * `region` and annotations are skipped.
 */
import { type JfrReader, malformedJfr } from "./reader.ts";
import { readJfrString } from "./strings.ts";

export type PrimitiveKind =
  | "boolean"
  | "byte"
  | "char"
  | "short"
  | "int"
  | "long"
  | "float"
  | "double"
  | "string";

export interface JfrField {
  name: string;
  typeId: number;
  constantPool: boolean;
  array: boolean;
}

export interface JfrClass {
  id: number;
  name: string;
  superType: string | undefined;
  fields: JfrField[];
  /** Set for the built-in value types (by name, when the class has no fields). */
  primitive: PrimitiveKind | undefined;
  /** Field name → position, for lookups. */
  fieldIndex: Map<string, number>;
}

export interface JfrMetadata {
  byId: Map<number, JfrClass>;
  byName: Map<string, JfrClass>;
}

export interface MetadataLimits {
  /** Classes declared in one metadata event. */
  maxClasses: number;
  /** Element nesting depth. */
  maxDepth: number;
}

const primitiveNames: ReadonlyMap<string, PrimitiveKind> = new Map<string, PrimitiveKind>([
  ["boolean", "boolean"],
  ["byte", "byte"],
  ["char", "char"],
  ["short", "short"],
  ["int", "int"],
  ["long", "long"],
  ["float", "float"],
  ["double", "double"],
  ["java.lang.String", "string"],
]);

interface Element {
  name: string;
  attributes: Map<string, string>;
  children: Element[];
}

/**
 * Reads the metadata payload; `r.pos` is just after the event's metadata-id field and
 * `r.end` is the end of the event.
 */
export function readMetadataBody(r: JfrReader, limits: MetadataLimits): JfrMetadata {
  const stringCount = r.count("metadata string count");
  const strings: string[] = new Array(stringCount);
  for (let i = 0; i < stringCount; i++) {
    const s = readJfrString(r, undefined);
    strings[i] = typeof s === "string" ? s : "";
  }
  const root = readElement(r, strings, 0, limits.maxDepth);
  if (root.name !== "root") throw malformedJfr(`metadata root element is ${JSON.stringify(root.name)}`);

  const byId = new Map<number, JfrClass>();
  const byName = new Map<string, JfrClass>();
  for (const section of root.children) {
    if (section.name !== "metadata") continue;
    for (const el of section.children) {
      if (el.name !== "class") continue;
      if (byId.size >= limits.maxClasses) {
        throw malformedJfr(`more than ${limits.maxClasses} classes in the metadata`);
      }
      const cls = toClass(el);
      byId.set(cls.id, cls);
      byName.set(cls.name, cls);
    }
  }
  for (const cls of byId.values()) {
    for (const f of cls.fields) {
      if (!byId.has(f.typeId)) {
        throw malformedJfr(`field ${cls.name}.${f.name} has unknown type id ${f.typeId}`);
      }
    }
  }
  return { byId, byName };
}

function readElement(r: JfrReader, strings: string[], depth: number, maxDepth: number): Element {
  if (depth > maxDepth) throw r.fail(`metadata nested deeper than ${maxDepth}`);
  const name = stringAt(r, strings);
  const attributeCount = r.count("metadata attribute count");
  const attributes = new Map<string, string>();
  for (let i = 0; i < attributeCount; i++) {
    const key = stringAt(r, strings);
    attributes.set(key, stringAt(r, strings));
  }
  const childCount = r.count("metadata child count");
  const children: Element[] = [];
  for (let i = 0; i < childCount; i++) children.push(readElement(r, strings, depth + 1, maxDepth));
  return { name, attributes, children };
}

function stringAt(r: JfrReader, strings: string[]): string {
  const at = r.pos;
  const i = r.varInt();
  if (i < 0 || i >= strings.length) throw malformedJfr(`metadata string index ${i} out of range`, at);
  return strings[i]!;
}

function toClass(el: Element): JfrClass {
  const name = el.attributes.get("name") ?? "";
  const id = parseId(el.attributes.get("id"), `class ${name}`);
  const fields: JfrField[] = [];
  const fieldIndex = new Map<string, number>();
  for (const child of el.children) {
    if (child.name !== "field") continue;
    const fieldName = child.attributes.get("name") ?? "";
    fieldIndex.set(fieldName, fields.length);
    fields.push({
      name: fieldName,
      typeId: parseId(child.attributes.get("class"), `field ${name}.${fieldName}`),
      constantPool: child.attributes.get("constantPool") === "true",
      array: (child.attributes.get("dimension") ?? "0") !== "0",
    });
  }
  const primitive = fields.length === 0 ? primitiveNames.get(name) : undefined;
  return { id, name, superType: el.attributes.get("superType"), fields, primitive, fieldIndex };
}

function parseId(text: string | undefined, what: string): number {
  if (text === undefined || !/^\d{1,15}$/.test(text)) {
    throw malformedJfr(`${what} has an invalid type id ${JSON.stringify(text)}`);
  }
  return Number(text);
}
