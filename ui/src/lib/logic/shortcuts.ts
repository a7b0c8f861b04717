// Every keyboard shortcut of the app, as the help overlay (`?`) lists them. The handlers live
// where they act (Shell: Ctrl+K, ? and the way back from a key; KeysScreen: / and N and ↓ from
// the search; KeysTable: the list keys and the columns' resize handles; Modal and the palette:
// Escape and Tab); this list is what the user reads.

/** `keys` pressed together, or (`or`) any one of them; a key written "Alt+←" is a chord. */
export type Shortcut = { keys: string[]; what: string; or?: boolean };

/** A key as the overlay shows it: a chord ("Alt+←") in its parts. */
export function chord(k: string): string[] {
  return k.length > 1 && k.includes("+") ? k.split("+") : [k];
}

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
      { keys: ["↓"], what: "From the search into the list (↑ on the first key goes back)" },
      { keys: ["↑", "↓"], what: "Move between keys", or: true },
      { keys: ["PgUp", "PgDn"], what: "Move a page", or: true },
      { keys: ["Home", "End"], what: "First or last key", or: true },
      { keys: ["Enter"], what: "Open the key" },
      { keys: ["Space"], what: "Select the key (for a bulk revoke)" },
    ],
  },
  {
    group: "A key's page",
    items: [{ keys: ["Esc", "Backspace", "Alt+←"], what: "Back to the list, on the key you opened", or: true }],
  },
  {
    group: "Keys table columns",
    items: [
      { keys: ["←", "→"], what: "On a column's edge (Tab to it): narrower or wider by 16 px", or: true },
      { keys: ["Double-click"], what: "A column's edge: back to its default width" },
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
