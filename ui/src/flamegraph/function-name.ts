/**
 * Splits a frame name into the part a reader scans for (the function, with its class or Go
 * package) and the path before it, so a narrow column can dim and cut the path first and keep
 * the end of the name visible: `java/io/UnixFileSystem.getLength` → `java/io/` +
 * `UnixFileSystem.getLength`; `github.com/org/repo/pkg.(*T).Run` → `github.com/org/repo/` +
 * `pkg.(*T).Run`; `com.example.Foo.bar` → `com.example.` + `Foo.bar`.
 */
export interface FunctionNameParts {
  /** The path or package prefix (may be empty); ends with its separator. */
  prefix: string;
  /** The rest of the name: prefix + short is the full name. */
  short: string;
}

export function splitFunctionName(name: string): FunctionNameParts {
  // Only the head before generics, arguments or a " - func" suffix can hold the path.
  const cut = name.search(/[([< ]/);
  const head = cut >= 0 ? name.slice(0, cut) : name;
  const slash = head.lastIndexOf("/");
  if (slash >= 0 && slash < name.length - 1)
    return { prefix: name.slice(0, slash + 1), short: name.slice(slash + 1) };
  // Dotted Java/.NET: lowercase package segments, then the first capitalised one (the class).
  // Names like `runtime.mallocgc` or `main.main` have no class and stay whole.
  const segments = head.split(".");
  for (let i = 0; i < segments.length - 1; i++) {
    const segment = segments[i]!;
    if (/^[A-Z]/.test(segment)) {
      if (i === 0) break;
      const prefix = `${segments.slice(0, i).join(".")}.`;
      return { prefix, short: name.slice(prefix.length) };
    }
    if (!/^[a-z_][a-z0-9_]*$/.test(segment)) break;
  }
  return { prefix: "", short: name };
}
