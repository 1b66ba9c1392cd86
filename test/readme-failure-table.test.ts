import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');
const readme = readFileSync(resolve(ROOT, 'README.md'), 'utf8');
const start = readme.indexOf('## Failure behaviour');
// Up to the next section, whatever follows it.
const section = readme.slice(start, readme.indexOf('\n## ', start + 1));

/** Every `path` › "title", "title" reference in the section: the file and the test titles it names. */
function references(text: string): { file: string; title: string }[] {
  const found: { file: string; title: string }[] = [];
  for (const match of text.matchAll(/`(test\/[^`]+\.ts)` › ((?:"[^"]+"(?:, )?)+)/g)) {
    for (const title of match[2]!.matchAll(/"([^"]+)"/g)) found.push({ file: match[1]!, title: title[1]! });
  }
  return found;
}

describe('the README\'s "Failure behaviour" table', () => {
  it('has a row for each of the 22 faults, each naming at least one test', () => {
    const rows = section.split('\n').filter((line) => /^\| \d+ \|/.test(line));
    expect(rows.map((row) => Number(/^\| (\d+) \|/.exec(row)![1]))).toEqual(Array.from({ length: 22 }, (_, i) => i + 1));
    for (const row of rows) expect(references(row).length, row.slice(0, 60)).toBeGreaterThan(0);
  });

  it('names only tests that exist', () => {
    const all = references(section);
    expect(all.length).toBeGreaterThan(30);
    for (const { file, title } of all) {
      expect(existsSync(resolve(ROOT, file)), file).toBe(true);
      // A title is quoted as it starts in the test's source (it, it.each, describe).
      expect(readFileSync(resolve(ROOT, file), 'utf8'), `${file} › "${title}"`).toContain(title);
    }
  });
});
