// The plan JSON scanner's tables: what it expects next, what a container is to the summary, the keys it
// reads (each a bit, so a duplicate is refused), their names for errors, its size limits and byte classes.

/** Largest value materialised (an address, an actions list); anything bigger is not a plan we can show. */
export const MAX_CAPTURE_BYTES = 1 << 20;
export const MAX_DEPTH = 10_000;
export const MAX_LITERAL_CHARS = 1024;

// What the scanner expects next.
export const S_VALUE = 0; // a value: at the root, after ':' or after ',' in an array
export const S_VALUE_OR_CLOSE = 1; // after '['
export const S_KEY_OR_CLOSE = 2; // after '{'
export const S_KEY = 3; // after ',' in an object
export const S_COLON = 4;
export const S_COMMA_OR_CLOSE = 5;
export const S_DONE = 6; // the root value is closed: only whitespace may follow

// A token that spans chunks.
export const M_NONE = 0;
export const M_STRING = 1;
export const M_LITERAL = 2;

export const KIND_OBJECT = 1;
export const KIND_ARRAY = 2;

// What a container is, as far as the summary cares.
export const R_OTHER = 0;
export const R_ROOT = 1;
export const R_CHANGES = 2; // resource_changes or resource_drift (which one: `section`)
export const R_ENTRY = 3; // resource_changes[i] or resource_drift[i]
export const R_CHANGE = 4; // resource_changes[i].change or resource_drift[i].change
export const R_PICK = 5; // inside change.after or change.after_unknown, on a path a ValuePicker asked for
export const R_OUTPUTS = 6; // output_changes
export const R_OUTPUT = 7; // output_changes.<name>

// Keys the summary reads; each is a bit so duplicates can be refused.
export const K_NONE = 0;
export const K_FORMAT = 1;
export const K_ENGINE = 2;
export const K_ERRORED = 4;
export const K_RESOURCE_CHANGES = 8;
export const K_ADDRESS = 16;
export const K_MODE = 32;
export const K_CHANGE = 64;
export const K_ACTIONS = 128;
export const K_TYPE = 256;
export const K_AFTER = 512;
export const K_AFTER_UNKNOWN = 1024;
export const K_PICK = 2048; // a picked value (never a key of KEYS_BY_ROLE)
export const K_PREVIOUS = 4096;
export const K_IMPORTING = 8192;
export const K_OUTPUT_CHANGES = 16384;
export const K_OUTPUT_ACTIONS = 32768;
export const K_RESOURCE_DRIFT = 65536;

export const KEYS_BY_ROLE: Record<number, ReadonlyMap<string, number>> = {
  [R_ROOT]: new Map([
    ['format_version', K_FORMAT],
    ['terraform_version', K_ENGINE],
    ['errored', K_ERRORED],
    ['resource_changes', K_RESOURCE_CHANGES],
    ['output_changes', K_OUTPUT_CHANGES],
    ['resource_drift', K_RESOURCE_DRIFT],
  ]),
  [R_ENTRY]: new Map([
    ['address', K_ADDRESS],
    ['previous_address', K_PREVIOUS],
    ['mode', K_MODE],
    ['type', K_TYPE],
    ['change', K_CHANGE],
  ]),
  [R_CHANGE]: new Map([
    ['actions', K_ACTIONS],
    ['after', K_AFTER],
    ['after_unknown', K_AFTER_UNKNOWN],
    ['importing', K_IMPORTING],
  ]),
  [R_OUTPUT]: new Map([['actions', K_OUTPUT_ACTIONS]]),
};
export const KEY_NAMES: Record<number, string> = {
  [K_FORMAT]: 'format_version',
  [K_ENGINE]: 'terraform_version',
  [K_ERRORED]: 'errored',
  [K_RESOURCE_CHANGES]: 'resource_changes',
  [K_ADDRESS]: 'address',
  [K_MODE]: 'mode',
  [K_CHANGE]: 'change',
  [K_ACTIONS]: 'change.actions',
  [K_TYPE]: 'type',
  [K_AFTER]: 'change.after',
  [K_AFTER_UNKNOWN]: 'change.after_unknown',
  [K_PICK]: 'a picked value',
  [K_PREVIOUS]: 'previous_address',
  [K_IMPORTING]: 'change.importing',
  [K_OUTPUT_CHANGES]: 'output_changes',
  [K_OUTPUT_ACTIONS]: 'actions',
  [K_RESOURCE_DRIFT]: 'resource_drift',
};
/** Output names are keys too, and may be long. */
export const MAX_OUTPUT_NAME_CHARS = 1024;
/** Longer keys cannot be one the summary reads, so they are not collected across chunks. */
export const MAX_KEY_CHARS = 32;

export const QUOTE = 0x22;
export const BACKSLASH = 0x5c;
export const IS_WHITESPACE = new Uint8Array(256);
for (const c of [0x20, 0x09, 0x0a, 0x0d]) IS_WHITESPACE[c] = 1;
export const IS_LITERAL = new Uint8Array(256);
for (const c of '0123456789+-.eEtrufalsn') IS_LITERAL[c.charCodeAt(0)] = 1;
export const NUMBER = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$/;

/** How many backslashes end `chunk[floor, end)`. */
export function trailingBackslashes(chunk: Buffer, end: number, floor: number): number {
  let k = end;
  while (k > floor && chunk[k - 1] === BACKSLASH) k--;
  return end - k;
}
