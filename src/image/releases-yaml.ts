// latest-releases.yaml: `---` then a list of flat maps. Only that shape is read (no YAML package).

export type YamlEntry = Record<string, string>;

export function parseReleasesYaml(text: string): YamlEntry[] {
  const entries: YamlEntry[] = [];
  let current: YamlEntry | undefined;
  let lastKey = "";
  for (const raw of text.split("\n")) {
    const line = raw.replace(/\r$/, "");
    if (line.trim() === "" || line.trim() === "---" || line.trimStart().startsWith("#")) continue;
    const item = /^-\s*(.*)$/.exec(line);
    if (item) {
      current = {};
      entries.push(current);
      if (!item[1]) continue;
    }
    const body = item ? item[1]! : line;
    const kv = /^\s*([A-Za-z0-9_-]+):\s?(.*)$/.exec(body);
    if (current && kv) {
      lastKey = kv[1]!;
      current[lastKey] = unquote(kv[2]!.trim());
    } else if (current && lastKey && /^\s+\S/.test(line)) {
      current[lastKey] = unquote(`${current[lastKey]} ${line.trim()}`); // a folded continuation (desc)
    }
  }
  return entries;
}

function unquote(value: string): string {
  if (value.length >= 2 && (value[0] === '"' || value[0] === "'") && value.endsWith(value[0]!)) return value.slice(1, -1);
  return value;
}
