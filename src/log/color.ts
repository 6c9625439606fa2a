// Whether output may be coloured: never when NO_COLOR is set (https://no-color.org).

/** Pure: colour is allowed unless NO_COLOR is present and not empty. */
export function colorAllowed(env: NodeJS.ProcessEnv = process.env): boolean {
  const noColor = env['NO_COLOR'];
  return noColor === undefined || noColor === '';
}
