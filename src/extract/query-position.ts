import { sourceOffset, withoutFinalSemicolon, withLiteralValues, type ParameterValues } from './named-parameters.ts';

/** A statement as sent to the database, and the report query (as written) it was made from. */
export interface SentStatement {
  readonly text: string;
  readonly query: { readonly sql: string; readonly values: ParameterValues; readonly file?: string | undefined };
}

/**
 * PostgreSQL's error position (1-based, in characters of the statement it received) as a line
 * and column in the report query as written: the statement carries the values in place of the
 * `:names` and, for COPY, a wrapper around the query. Undefined when the position is in our
 * wrapper rather than in the user's SQL.
 */
export function positionInQuery(position: number, statement: SentStatement): string | undefined {
  const { sql, values, file } = statement.query;
  const rewritten = withLiteralValues(sql, values);
  const start = statement.text.indexOf(withoutFinalSemicolon(rewritten));
  const textOffset = indexOfCharacter(statement.text, position - 1) - start;
  if (start < 0 || textOffset < 0 || textOffset > rewritten.length) return undefined;
  const offset = sourceOffset(sql, values, textOffset);
  const lineStart = sql.lastIndexOf('\n', offset - 1) + 1;
  const line = sql.slice(0, offset).split('\n').length;
  const column = [...sql.slice(lineStart, offset)].length + 1;
  return `line ${line}, column ${column} of ${file ?? 'the report query'}`;
}

/** PostgreSQL counts characters; JavaScript strings count UTF-16 units (an emoji is two). */
function indexOfCharacter(text: string, characters: number): number {
  let index = 0;
  for (let seen = 0; seen < characters && index < text.length; seen++) index += text.codePointAt(index)! > 0xffff ? 2 : 1;
  return index;
}
