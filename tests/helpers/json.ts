/** JSON text parsed into `unknown`: a test narrows it (or checks it against the contract) before reading it. */
export function parseJson(text: string): unknown {
  const value: unknown = JSON.parse(text);
  return value;
}

/** True for a JSON object (not null, not an array), whose members are then `unknown`. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
