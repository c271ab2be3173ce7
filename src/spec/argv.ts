/**
 * Splits a command written as one string into argv the way a POSIX shell splits words, but
 * without running a shell: single quotes keep text literally, double quotes allow `\"` and
 * `\\`, a backslash outside quotes escapes the next character. No expansion of any kind
 * happens, so `$HOME` stays `$HOME`; users who want a shell write `sh -c '…'`.
 */

/** Argv of `text`, or null when a quote is left open or the text ends in a lone backslash. */
export function splitArgv(text: string): string[] | null {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: '' | '"' | "'" = '';
  for (let at = 0; at < text.length; at += 1) {
    const char = text[at]!;
    if (quote === "'") {
      if (char === "'") quote = '';
      else word += char;
    } else if (quote === '"') {
      if (char === '"') quote = '';
      else if (char === '\\' && (text[at + 1] === '"' || text[at + 1] === '\\')) {
        word += text[at + 1];
        at += 1;
      } else word += char;
    } else if (char === "'" || char === '"') {
      quote = char;
      inWord = true;
    } else if (char === '\\') {
      if (at + 1 >= text.length) return null;
      word += text[at + 1];
      at += 1;
      inWord = true;
    } else if (/\s/.test(char)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += char;
      inWord = true;
    }
  }
  if (quote !== '') return null;
  if (inWord) words.push(word);
  return words;
}
