/**
 * The HTTP routes' answers: `json` and `httpError` are the core's one
 * response builder (`core/replies.ts`), under the names the routes use;
 * statuses come from the code table in `protocol/codes.ts`.
 * @module
 */
export { statusFor } from "../protocol/codes.ts";
export { errorResponse as httpError, jsonResponse as json } from "../core/replies.ts";
