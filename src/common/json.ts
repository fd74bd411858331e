export type JsonPrimitive = string | number | boolean | null;
export type JsonValue = JsonPrimitive | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** Custom attributes on accounts and contacts: flat values a scenario can test. */
export type AttributeValue = string | number | boolean | null;
export type Attributes = Record<string, AttributeValue>;
