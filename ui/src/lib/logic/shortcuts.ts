// Every keyboard shortcut of the app, as the help overlay (`?`) lists them. The handlers live
// where they act (Shell: Ctrl+K and ?; KeysScreen: / and N; KeysTable: the list keys; Modal and
// the palette: Escape and Tab); this list is what the user reads.

export type Shortcut = { keys: string[]; what: string; or?: boolean };

export const SHORTCUTS: ReadonlyArray<{ group: string; items: ReadonlyArray<Shortcut> }> = [
  {
    group: "Anywhere",
    items: [
      { keys: ["Ctrl", "K"], what: "Command palette: search keys, orgs, users and actions" },
      { keys: ["?"], what: "This list of shortcuts" },
      { keys: ["Esc"], what: "Close the palette, a dialog or this list" },
      { keys: ["Tab"], what: "Next control (stays inside an open dialog)" },
    ],
  },
  {
    group: "Keys list",
    items: [
      { keys: ["/"], what: "Search the keys" },
      { keys: ["N"], what: "Create a key" },
      { keys: ["↑", "↓"], what: "Move between keys", or: true },
      { keys: ["PgUp", "PgDn"], what: "Move a page", or: true },
      { keys: ["Home", "End"], what: "First or last key", or: true },
      { keys: ["Enter"], what: "Open the key" },
      { keys: ["Space"], what: "Select the key (for a bulk revoke)" },
    ],
  },
  {
    group: "Command palette",
    items: [
      { keys: ["↑", "↓"], what: "Move", or: true },
      { keys: ["Enter"], what: "Run the command or open the key" },
    ],
  },
  {
    group: "Leak scan",
    items: [{ keys: ["Ctrl", "Enter"], what: "Scan the paths typed" }],
  },
];
