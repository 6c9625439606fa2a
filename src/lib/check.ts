// One line of `airlock doctor` (and of the runner's start-up checks): what was checked, and the fix.
export interface Check {
  name: string;
  ok: boolean;
  /** warnings do not fail doctor */
  warn?: boolean;
  detail: string;
  fix?: string;
}
