/** NAME_MAX of Linux and macOS file systems. */
export const MAX_FILE_NAME_BYTES = 255;

/**
 * Why `name` is not a plain file name, or undefined when it is one. Files that name other files (a
 * manifest, a safetensors index) come from whoever wrote the directory, so a name they give is joined
 * to that directory only once it can neither climb out of it nor point anywhere else.
 */
export function plainFileNameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string') return 'is not a string';
  if (name === '') return 'is empty';
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes > MAX_FILE_NAME_BYTES) return `is ${bytes} bytes long (at most ${MAX_FILE_NAME_BYTES})`;
  if (name === '.' || name === '..') return `names a directory, not a file`;
  // ':' too: on Windows "C:x" is drive-relative and "x:y" an alternate data stream.
  const bad = /[/\\:\x00-\x1f\x7f]/.exec(name);
  if (bad) return `contains ${JSON.stringify(bad[0])}: it must be a plain name in the same directory`;
  return undefined;
}
