// Uses the generated types the way a dashboard frontend does. `make client-check` regenerates
// them from the served OpenAPI document and type-checks this file: if the document lies (money
// as a string, errors without their problem schema), this stops compiling.
import type { components, operations, paths } from "./generated/api";

type Schemas = components["schemas"];
type TaskPage = paths["/api/tasks"]["get"]["responses"][200]["content"]["application/json"];
type Problem = Schemas["ProblemDetails"];

// Money is a number: sum it with `+` and format it.
export function totalCost(page: TaskPage): string {
  const total = page.items.reduce((sum, task) => sum + task.cost_usd, 0);
  return `$${total.toFixed(2)}`;
}

export function conversationSpend(conversation: Schemas["Conversation"]): number {
  return conversation.totals.cost_usd + 0;
}

export function dailyCosts(histogram: Schemas["CostHistogram"]): number[] {
  return histogram.buckets.map((bucket) => bucket.cost_usd * 100);
}

// Errors are problems: the status and each field in error are typed.
export function describeProblem(problem: Problem): string {
  const status: number = problem.status;
  const fields = (problem.errors ?? []).map((error) => error.field ?? "(body)");
  return `${status} ${problem.title}${fields.length ? `: ${fields.join(", ")}` : ""}`;
}

export function notFound(
  answer: operations["getTask"]["responses"][404]["content"]["application/problem+json"],
): boolean {
  return answer.status === 404;
}

export function conflictStatus(
  answer: operations["updateTask"]["responses"][409]["content"]["application/problem+json"],
): string | undefined {
  return answer.current_status;
}

export function tooManyRequests(
  answer: paths["/api/tasks"]["get"]["responses"][429]["content"]["application/problem+json"],
): string {
  return answer.type;
}

// Request bodies: what the server refuses does not compile.
export const newTask: Schemas["TaskCreate"] = { agent_type: "coder", status: "running" };
// @ts-expect-error a task cannot be created already finished
export const finished: Schemas["TaskCreate"] = { agent_type: "coder", status: "completed" };
// @ts-expect-error unknown properties are refused
export const extra: Schemas["TaskCreate"] = { agent_type: "coder", colour: "red" };
export const report: Schemas["TaskUpdate"] = { status: "completed", cost_usd: 0.25 };
