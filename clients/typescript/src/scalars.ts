// The gateway's custom scalars as TypeScript sees them. `DateTime` is an
// RFC 3339 string; `JSON` (the upstream record behind a contact, property
// or link, and activity metadata) is any JSON value, which is as far as the
// schema types it.

/** Any value JSON can write. */
export type JsonValue =
  | string
  | number
  | boolean
  | null
  | JsonValue[]
  | { [key: string]: JsonValue };
