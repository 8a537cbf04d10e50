// Shapes picked out of the generated OpenAPI types (api-types.d.ts) by path, so they survive
// schema renames: only the route and its method matter.
import type { paths } from "./api-types";

type Json<R> = R extends { content: { "application/json": infer T } } ? T : never;
type Ok<Op> = Op extends { responses: infer R }
  ? R extends { 200: infer A } ? Json<A>
  : R extends { 201: infer A } ? Json<A>
  : R extends { 202: infer A } ? Json<A>
  : never
  : never;

/** The JSON body a successful GET of path `P` answers. */
export type Get<P extends keyof paths> = paths[P] extends { get: infer Op } ? Ok<Op> : never;
/** The JSON body a successful POST to path `P` answers. */
export type Post<P extends keyof paths> = paths[P] extends { post: infer Op } ? Ok<Op> : never;
/** The JSON body a successful PATCH of path `P` answers. */
export type Patch<P extends keyof paths> = paths[P] extends { patch: infer Op } ? Ok<Op> : never;
/** The query parameters of a GET of path `P`. */
export type Query<P extends keyof paths> = paths[P] extends {
  get: { parameters: { query?: infer Q } };
}
  ? NonNullable<Q>
  : never;
/** The JSON request body of `M` on path `P`. */
export type Body<P extends keyof paths, M extends "post" | "patch"> = paths[P] extends {
  [K in M]: { requestBody?: infer B };
}
  ? Json<NonNullable<B>>
  : never;
