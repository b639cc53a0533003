/**
 * Symbol clean-up applied to every JFR symbol (class, method and library names) before
 * frames are named, as Pyroscope's JFR converter does, so that names the JVM or a library
 * loader generates per process collapse into one stable frame:
 * - reflection accessors `jdk/internal/reflect/GeneratedMethodAccessor31` → `…GeneratedMethodAccessor_`;
 * - lambda classes `Foo$$Lambda$669/0x0000000800fd7318`, `Fib$$Lambda.0x00007ffa600c4da0`
 *   → `Foo$$Lambda_`, `Fib$$Lambda_`;
 * - native libraries extracted to /tmp under a random name: zstd-jni, Amazon Corretto Crypto
 *   Provider and pyroscope's own async-profiler build.
 */

interface Rule {
  pattern: RegExp;
  replacement: string;
}

const rules: readonly Rule[] = [
  { pattern: /^(jdk\/internal\/reflect\/GeneratedMethodAccessor)\d+$/, replacement: "$1_" },
  { pattern: /^(.+\$\$Lambda)(?:\$?\d*[./](?:0x)?[\da-f]+|\d+)$/, replacement: "$1_" },
  {
    pattern: /^(?:\.?\/tmp\/)?libzstd-jni-\d+\.\d+\.\d+-\d+\.so(?: \(deleted\))?$/,
    replacement: "libzstd-jni-_.so",
  },
  {
    pattern:
      /^(?:\.?\/tmp\/)?(?:lib)?amazonCorrettoCryptoProvider(?:NativeLibraries\.)?[0-9a-f]{16}(?:\/libcrypto|\/libamazonCorrettoCryptoProvider)?\.so(?: \(deleted\))?$/,
    replacement: "libamazonCorrettoCryptoProvider_.so",
  },
  {
    pattern:
      /^(?:\.?\/tmp\/)?libasyncProfiler-(?:linux-arm64|linux-musl-x64|linux-x64|macos)-17b9a1d8156277a98ccc871afa9a8f69215f92\.so(?: \(deleted\))?$/,
    replacement: "libasyncProfiler-_.so",
  },
];

/** Cheap pre-check: every rule needs one of these substrings. */
const markers = [
  "GeneratedMethodAccessor",
  "$$Lambda",
  "libzstd-jni-",
  "amazonCorrettoCryptoProvider",
  "libasyncProfiler-",
];

export function mergeGeneratedSymbol(symbol: string): string {
  if (!markers.some((m) => symbol.includes(m))) return symbol;
  let s = symbol;
  for (const rule of rules) s = s.replace(rule.pattern, rule.replacement);
  return s;
}
