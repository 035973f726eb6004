/**
 * A route's hooks of one kind as a list: Fastify accepts none, one, or an
 * array, and the onRoute hooks here add to whatever a route already has.
 */
export function hookList(existing: unknown): unknown[] {
  return existing === undefined ? [] : Array.isArray(existing) ? [...(existing as unknown[])] : [existing];
}
